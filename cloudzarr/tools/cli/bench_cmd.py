"""``cloudzarr bench``: request latency and throughput of a store, and Zarr workloads."""

from __future__ import annotations

import contextlib
import sys

import click
from rich.console import Console

from cloudzarr.tools.bench import OPS, BenchConfig, BenchRunner, parse_size, total_requests
from cloudzarr.tools.cli.common import (
    PLOT_SUFFIXES,
    Target,
    check_output_path,
    checked_options,
    errors_as_one_line,
    parse_ints,
    parse_options,
    progress_bar,
    split_list,
    storage_option_flag,
)
from cloudzarr.tools.cli.common import console as make_console
from cloudzarr.tools.cli.common import target as resolve_target


@click.command()
@click.argument("url", required=False)
@storage_option_flag
@click.option(
    "--ops",
    default="put,get,range,head,list,delete",
    show_default=True,
    help=f"Operations to measure, from {','.join(OPS)}.",
)
@click.option("--sizes", default="1KiB,64KiB,1MiB", show_default=True, help="Object sizes.")
@click.option(
    "--concurrency", default="1,16", show_default=True, help="Concurrent requests, comma-separated."
)
@click.option(
    "--requests",
    "-n",
    "requests",
    type=int,
    default=50,
    show_default=True,
    help="Requests per op x size x concurrency.",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Seconds per op x size x concurrency, instead of --requests.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the results as a JSON list of records.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Draw latency percentiles to a PNG (needs the 'plot' extra).",
)
@click.option(
    "--proxy-latency",
    type=float,
    default=0.0,
    metavar="MS",
    help="Embedded server only: put a TCP proxy adding MS milliseconds each way in front.",
)
@click.option(
    "--hierarchy",
    is_flag=True,
    help="Time opening and walking a synthetic hierarchy, consolidated and not.",
)
@click.option(
    "--hierarchy-shape",
    default="5x5x4",
    show_default=True,
    metavar="OxIxA",
    help="With --hierarchy: outer groups x inner groups x arrays per inner group.",
)
@click.option(
    "--latency",
    type=float,
    default=0.0,
    metavar="MS",
    help="With --hierarchy: add MS milliseconds to every read request (in-process).",
)
def bench(
    url: str | None,
    storage_option: tuple[str, ...],
    ops: str,
    sizes: str,
    concurrency: str,
    requests: int,
    duration: float | None,
    json_path: str | None,
    plot_path: str | None,
    proxy_latency: float,
    hierarchy: bool,
    hierarchy_shape: str,
    latency: float,
) -> None:
    """Measure request latency and throughput of the store at URL.

    With no URL, an S3 server (moto) is started on 127.0.0.1 for the run: no account and no
    set-up needed. Objects are written under a unique prefix that is removed afterwards, also
    on Ctrl-C.
    """
    from cloudzarr.tools.interrupt import sigterm_as_interrupt

    options = checked_options(url, storage_option) if url else parse_options(storage_option)
    conc = parse_ints(concurrency, "--concurrency")
    # Checked now, not after a run of minutes that could then not be saved.
    check_output_path(json_path, "--json")
    check_output_path(plot_path, "--plot", suffixes=PLOT_SUFFIXES)
    try:
        config = BenchConfig(
            ops=split_list(ops),
            sizes=[parse_size(s) for s in split_list(sizes)],
            concurrency=conc,
            requests=requests,
            duration=duration,
        )
        from cloudzarr.tools.bench_hierarchy import HierarchyShape

        shape = HierarchyShape.parse(hierarchy_shape)
        if latency < 0:
            raise ValueError("--latency must be non-negative")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = make_console()
    with sigterm_as_interrupt(), errors_as_one_line():
        try:
            with resolve_target(url, options, proxy_latency) as target:
                if hierarchy:
                    from cloudzarr.tools.bench_hierarchy import run_hierarchy_bench

                    console.print(f"bench target: {target.description}", highlight=False)
                    run_hierarchy_bench(
                        target.url,
                        target.storage_options,
                        console,
                        shape=shape,
                        latency=latency / 1e3,
                    )
                    return
                _run_bench(target, config, console, json_path, plot_path)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: the bench prefix was removed[/yellow]")
            sys.exit(130)


def _run_bench(
    target: Target,
    config: BenchConfig,
    console: Console,
    json_path: str | None,
    plot_path: str | None,
) -> None:
    from cloudzarr.storage import open_store
    from cloudzarr.tools.bench_output import results_table, write_json, write_plot
    from cloudzarr.tools.interrupt import run_interruptibly

    store = open_store(
        target.url,
        storage_options=target.storage_options or None,
        concurrency=max(config.concurrency),
    )
    console.print(f"bench target: {target.description}", highlight=False)
    with progress_bar() as progress:
        task = progress.add_task("requests", total=total_requests(config))
        runner = BenchRunner(store, config, progress=lambda n: progress.advance(task, n))
        console.print(f"working under {runner.prefix}/ (removed at the end)", highlight=False)
        try:
            records = run_interruptibly(runner.run())
        finally:
            with contextlib.suppress(Exception):
                run_interruptibly(store.close())
    console.print(results_table(records, title=f"cloudzarr bench: {target.url}"))
    if json_path:
        write_json(records, json_path)
        console.print(f"wrote {json_path}", highlight=False)
    if plot_path:
        write_plot(records, plot_path, title=f"cloudzarr bench: {target.description}")
        console.print(f"wrote {plot_path}", highlight=False)
