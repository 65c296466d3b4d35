"""``cloudzarr demo``: a sample dataset written, consolidated and reopened, phase by phase."""

from __future__ import annotations

import contextlib
from typing import Any

import click
from rich.console import Console

from cloudzarr.tools.cli.common import (
    Target,
    errors_as_one_line,
    interrupted,
    storage_option_flag,
    target_options,
)
from cloudzarr.tools.cli.common import console as make_console
from cloudzarr.tools.cli.common import (
    target as resolve_target,
)


@click.command()
@click.option(
    "--url", default=None, help="Run against this store URL instead of a local S3 server."
)
@storage_option_flag
@click.option(
    "--latency",
    type=float,
    default=20.0,
    show_default=True,
    metavar="MS",
    help="Latency added to every request when the dataset is reopened.",
)
@click.option("--keep", is_flag=True, help="With --url: leave the dataset in place.")
def demo(url: str | None, storage_option: tuple[str, ...], latency: float, keep: bool) -> None:
    """Write a sample dataset to object storage and show how it reopens, phase by phase.

    With no --url, an S3 server (moto) is started on 127.0.0.1 for the run and stopped at the
    end. With --url, the dataset goes under a fresh folder that is removed afterwards.
    """  # fmt: skip
    from cloudzarr.tools.demo import unique_prefix
    from cloudzarr.tools.interrupt import sigterm_as_interrupt

    options = target_options(url, storage_option)
    if latency < 0:
        raise click.UsageError("--latency must be non-negative")
    if keep and url is None:
        raise click.UsageError("--keep applies only with --url (the embedded server is stopped)")
    console = make_console()
    with sigterm_as_interrupt(), errors_as_one_line():
        try:
            with resolve_target(url, options, 0.0, bucket="cloudzarr-demo") as target:
                store_url = target.url if url is None else f"{url.rstrip('/')}/{unique_prefix()}"
                _run_demo(
                    Target(store_url, target.storage_options, target.description),
                    console,
                    latency / 1e3,
                    cleanup=url is not None and not keep,
                )
        except KeyboardInterrupt:
            interrupted()


def _run_demo(target: Target, console: Console, latency: float, *, cleanup: bool) -> None:
    from cloudzarr.storage import open_store
    from cloudzarr.tools.bench_hierarchy import phases_table
    from cloudzarr.tools.demo import run_demo
    from cloudzarr.tools.interrupt import run_interruptibly

    store = open_store(target.url, storage_options=target.storage_options or None)
    console.print(f"[bold]cloudzarr demo[/bold] on {target.description}", highlight=False)
    console.print(f"dataset at {target.url}", highlight=False)
    try:
        with console.status("writing, consolidating and reopening the sample dataset..."):
            result = run_interruptibly(run_demo(store, latency=latency))
        with console.status("timing single requests..."):
            requests = run_interruptibly(_request_figures(store))
    finally:
        if cleanup:
            run_interruptibly(store.delete_dir(""))
            _remove_empty_root(store)
        with contextlib.suppress(Exception):
            run_interruptibly(store.close())
    table = phases_table(
        result.phases,
        title=f"{result.groups} groups, {result.arrays} arrays; "
        f"reopened with {latency * 1e3:g} ms added to every request",
    )
    console.print(table)
    cons = result.phase("open + list, consolidated")
    walk = result.phase("open + list, cloudzarr walk")
    seq = result.phase("open + list, zarr-python order")
    console.print(
        f"consolidated metadata: {cons.total_requests} request(s), {cons.seconds:.3f} s. "
        f"Without it, cloudzarr's walk sends {walk.total_requests} requests in "
        f"{walk.seconds:.3f} s ({walk.peak_in_flight} at once at its peak); walking in "
        f"zarr-python's order sends {seq.total_requests} in {seq.seconds:.3f} s, "
        f"{compared(seq.seconds, walk.seconds)}.",
        highlight=False,
    )
    from cloudzarr.tools.bench_output import results_table

    console.print(
        results_table(requests, title="single requests to the same store (cloudzarr bench)")
    )
    console.print(
        "p50 is the full request time, ttfb p50 the time to the first byte (S3 and Azure GETs); "
        "`cloudzarr bench` measures more (--mix, --duration, --clients, --compare).",
        highlight=False,
    )
    if cleanup:
        console.print(f"removed {target.url}", highlight=False)


async def _request_figures(store: Any) -> list[Any]:
    """A small bench of GETs and PUTs of 64 KiB, 1 and 8 at once (its prefix is removed)."""
    from cloudzarr.tools.bench import BenchConfig, BenchRunner

    config = BenchConfig(ops=["get", "put"], sizes=[64 * 1024], concurrency=[1, 8], requests=24)
    return await BenchRunner(store, config).run()


def compared(seconds: float, reference: float) -> str:
    """``seconds`` against ``reference`` in words ("2.4x longer", "1.7x shorter")."""
    if reference <= 0 or seconds <= 0:
        return "no comparable time"
    if seconds >= reference:
        return f"{seconds / reference:.1f}x longer"
    return f"{reference / seconds:.1f}x shorter (no latency to overlap; try --latency 20)"


def _remove_empty_root(store: Any) -> None:
    """Remove the demo's own folder on local disk, which ``delete_dir("")`` empties but keeps
    (object stores have no folders to leave behind)."""
    from cloudzarr.storage import LocalStore

    if isinstance(store, LocalStore):
        with contextlib.suppress(OSError):
            store.root.rmdir()  # only succeeds when empty: nothing of anyone else's is lost
