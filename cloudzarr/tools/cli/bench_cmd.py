"""``cloudzarr bench``: request latency and throughput of a store, and Zarr workloads."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console

from cloudzarr.tools.bench import OPS, BenchConfig, BenchRecord, parse_mix, parse_size
from cloudzarr.tools.cli.common import (
    PLOT_SUFFIXES,
    Target,
    check_output_path,
    errors_as_one_line,
    interrupted,
    open_url,
    parse_ints,
    progress_bar,
    split_list,
    storage_option_flag,
    target_options,
)
from cloudzarr.tools.cli.common import console as make_console
from cloudzarr.tools.cli.common import target as resolve_target


@dataclass
class Outputs:
    """Where the results go besides the table."""

    json_path: str | None
    plot_path: str | None
    raw_path: str | None


@click.command()
@click.argument("url", required=False)
@storage_option_flag
@click.option(
    "--ops",
    default="put,get,range,head,list,delete",
    show_default=True,
    help=f"Operations to measure, from {','.join(OPS)}.",
)
@click.option(
    "--mix",
    default=None,
    metavar="OP=W,...",
    help="A mixed workload with weights (get=70,put=20,list=5,delete=5) instead of --ops.",
)
@click.option("--sizes", default="1KiB,64KiB,1MiB", show_default=True, help="Object sizes.")
@click.option(
    "--concurrency", default="1,16", show_default=True, help="Concurrent requests, comma-separated."
)
@click.option(
    "--requests", "-n", "requests", type=int, default=50, show_default=True, help="Per cell."
)
@click.option(
    "--duration",
    type=float,
    default=None,
    metavar="S",
    help="Seconds for the whole run (split evenly over the cells), instead of --requests.",
)
@click.option(
    "--duration-per-cell", type=float, default=None, metavar="S", help="Seconds per cell."
)
@click.option("--clients", type=click.IntRange(min=1), default=1, help="Client processes.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write {meta, rows (with per-second series), warnings} as JSON.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Draw latency percentiles and throughput over time (needs the 'plot' extra).",
)
@click.option(
    "--raw",
    "raw_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write every request (JSON lines: op, start, end, ttfb, ok, bytes).",
)
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="A.json B.json",
    help="Print per-cell ratios B/A of two runs' JSON files (no run).",
)
@click.option(
    "--proxy-latency",
    type=float,
    default=0.0,
    metavar="MS",
    help="Embedded server only: put a TCP proxy adding MS milliseconds each way in front.",
)
@click.option(
    "--zarr",
    "zarr_workloads",
    default=None,
    metavar="NAMES",
    help="Zarr workloads instead of requests: open,read-chunks,shard-read,create-race,ramp,"
    "hedging "
    "(or 'all').",
)
@click.option("--hierarchy", is_flag=True, help="Same as --zarr open.")
@click.option(
    "--hierarchy-shape",
    default="5x5x4",
    show_default=True,
    metavar="OxIxA",
    help="With --zarr open: outer groups x inner groups x arrays per inner group.",
)
@click.option(
    "--latency",
    type=float,
    default=0.0,
    metavar="MS",
    help="With --zarr open: add MS milliseconds to every read request (in-process).",
)
@click.option("--client-id", type=int, default=None, hidden=True)
def bench(
    url: str | None,
    storage_option: tuple[str, ...],
    ops: str,
    mix: str | None,
    sizes: str,
    concurrency: str,
    requests: int,
    duration: float | None,
    duration_per_cell: float | None,
    clients: int,
    json_path: str | None,
    plot_path: str | None,
    raw_path: str | None,
    compare: tuple[str, str] | None,
    proxy_latency: float,
    zarr_workloads: str | None,
    hierarchy: bool,
    hierarchy_shape: str,
    latency: float,
    client_id: int | None,
) -> None:
    """Measure request latency and throughput of the store at URL.

    With no URL, an S3 server (moto) is started on 127.0.0.1 for the run: no account and no
    set-up needed. Objects are written under a unique prefix that is removed afterwards, also
    on Ctrl-C.
    """
    from cloudzarr.tools.interrupt import sigterm_as_interrupt

    console = make_console()
    if compare is not None:
        _print_comparison(console, *compare)
        return
    started = time.time()
    if client_id is not None:
        from cloudzarr.tools.bench_clients import client_options

        options = client_options()
    else:
        options = target_options(url, storage_option)
    conc = parse_ints(concurrency, "--concurrency")
    # Checked now, not after a run of minutes that could then not be saved.
    check_output_path(json_path, "--json")
    check_output_path(raw_path, "--raw")
    check_output_path(plot_path, "--plot", suffixes=PLOT_SUFFIXES)
    try:
        config = BenchConfig(
            ops=split_list(ops),
            sizes=[parse_size(s) for s in split_list(sizes)],
            concurrency=conc,
            requests=requests,
            duration=duration,
            duration_per_cell=duration_per_cell,
            mix=parse_mix(mix) if mix else None,
        )
        from cloudzarr.tools.bench_zarr import parse_workloads

        workloads = parse_workloads(zarr_workloads, hierarchy=hierarchy)
        from cloudzarr.tools.bench_hierarchy import HierarchyShape

        shape = HierarchyShape.parse(hierarchy_shape)
        if latency < 0:
            raise ValueError("--latency must be non-negative")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    every_option = {
        "ops": config.ops_used, "mix": dict(config.mix or {}), "sizes": list(config.sizes),
        "concurrency": conc, "requests": requests, "duration": duration,
        "duration_per_cell": duration_per_cell, "clients": clients,
        "proxy_latency_ms": proxy_latency,
    }  # fmt: skip
    outputs = Outputs(json_path, plot_path, raw_path)
    with sigterm_as_interrupt(), errors_as_one_line():
        try:
            with resolve_target(url, options, proxy_latency) as target:
                # A bad URL fails here, as one error line before anything is printed (opening
                # a store sends no request).
                open_url(target.url, target.storage_options)
                console.print(f"bench target: {target.description}", highlight=False)
                if workloads:
                    from cloudzarr.tools.bench_zarr import run_zarr_workloads

                    run_zarr_workloads(
                        workloads, target, console, shape=shape, latency=latency / 1e3
                    )
                    return
                if clients > 1:
                    records = _run_clients(clients, target, config, proxy_latency)
                else:
                    records = _run_bench(target, config, console, client_id or 0)
                _report(records, target, config, console, outputs, every_option, started)
        except KeyboardInterrupt:
            interrupted("interrupted: the bench prefix was removed")


def _bench_args(config: BenchConfig) -> list[str]:
    """The command-line options that make a client run ``config``."""
    args = ["--sizes", ",".join(str(s) for s in config.sizes)]
    args += ["--concurrency", ",".join(str(c) for c in config.concurrency)]
    args += ["--requests", str(config.requests)]
    if config.mix:
        args += ["--mix", ",".join(f"{k}={v}" for k, v in config.mix.items())]
    else:
        args += ["--ops", ",".join(config.ops)]
    if config.duration is not None:
        args += ["--duration", str(config.duration)]
    if config.duration_per_cell is not None:
        args += ["--duration-per-cell", str(config.duration_per_cell)]
    return args


def _run_clients(
    n: int, target: Target, config: BenchConfig, proxy_latency: float
) -> list[BenchRecord]:
    from cloudzarr.tools.bench_clients import run_clients

    with progress_bar() as bar:
        bar.add_task(f"{n} clients running", total=None)
        return run_clients(n, target.url, target.storage_options, _bench_args(config))


def _run_bench(
    target: Target, config: BenchConfig, console: Console, client: int
) -> list[BenchRecord]:
    from cloudzarr.storage import open_store
    from cloudzarr.tools.bench import BenchRunner, total_requests
    from cloudzarr.tools.interrupt import run_interruptibly

    store = open_store(
        target.url,
        storage_options=target.storage_options or None,
        concurrency=max(config.concurrency),
    )
    with progress_bar() as progress:
        task = progress.add_task("requests", total=total_requests(config))
        runner = BenchRunner(
            store, config, progress=lambda n: progress.advance(task, n), client=client
        )
        console.print(f"working under {runner.prefix}/ (removed at the end)", highlight=False)
        try:
            return run_interruptibly(runner.run())
        finally:
            with contextlib.suppress(Exception):
                run_interruptibly(store.close())


def _report(
    records: list[BenchRecord],
    target: Target,
    config: BenchConfig,
    console: Console,
    outputs: Outputs,
    every_option: dict[str, Any],
    started: float,
) -> None:
    from cloudzarr.tools.bench_output import (
        results_table,
        run_meta,
        write_json,
        write_plot,
        write_raw,
    )
    from cloudzarr.tools.bench_stats import saturation_warnings

    console.print(results_table(records, title=f"cloudzarr bench: {target.url}"))
    warnings = saturation_warnings([r for r in records if r.workload == "single" or r.op == "mix"])
    if warnings and target.description.startswith("embedded"):
        warnings.append(
            "the embedded moto server is one Python process: it, not cloudzarr or a real "
            "store, is the limit here; measure a real store for capacity figures"
        )
    for line in warnings:
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
    if outputs.json_path:
        meta = run_meta(target.url, every_option, target.storage_options, started)
        meta["target"] = target.description
        write_json(records, outputs.json_path, meta=meta, warnings=warnings)
        console.print(f"wrote {outputs.json_path}", highlight=False)
    if outputs.raw_path:
        lines = write_raw(records, outputs.raw_path)
        console.print(f"wrote {lines} requests to {outputs.raw_path}", highlight=False)
    if outputs.plot_path:
        write_plot(records, outputs.plot_path, title=f"cloudzarr bench: {target.description}")
        console.print(f"wrote {outputs.plot_path}", highlight=False)


def _print_comparison(console: Console, a_path: str, b_path: str) -> None:
    from cloudzarr.tools.bench_compare import compare_rows, comparison_table
    from cloudzarr.tools.bench_output import read_rows

    try:
        (_, a_rows), (_, b_rows) = read_rows(a_path), read_rows(b_path)
    except (ValueError, KeyError, TypeError) as exc:
        raise click.UsageError(f"--compare needs two bench JSON files: {exc}") from None
    found = compare_rows(a_rows, b_rows)
    if not found:
        raise click.UsageError(f"{a_path} and {b_path} have no cell in common")
    console.print(comparison_table(found, title=f"B = {b_path} over A = {a_path}"))
    console.print(
        "sig: * the p50 95 % confidence intervals do not overlap (a real difference); "
        "~ they overlap (within noise); ? too few samples",
        highlight=False,
    )
