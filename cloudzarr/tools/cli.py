"""The ``cloudzarr`` command line: ``cloudzarr bench`` and ``cloudzarr demo``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cloudzarr.errors import CloudzarrError
from cloudzarr.tools.bench import OPS, BenchConfig, BenchRunner, parse_size, total_requests


@click.group()
@click.version_option(package_name="cloudzarr")
def cli() -> None:
    """cloudzarr: Zarr hierarchies on object storage, and tools to measure them."""


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_ints(value: str, option: str) -> list[int]:
    try:
        return [int(part) for part in _split(value)]
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of integers", param_hint=option
        ) from None


@contextlib.contextmanager
def _store_errors_as_usage() -> Iterator[None]:
    """Show a cloudzarr error as one ``Error:`` line (exit status 1) instead of a traceback.

    When the clean-up after a failure fails too (a missing bucket fails both the first write
    and the deletion of the prefix), the original error is shown first: it is the cause.
    cloudzarr's messages never carry credentials, so they are safe to print.
    """
    try:
        yield
    except Exception as exc:
        chain: list[str] = []
        seen: BaseException | None = exc
        while seen is not None and (err := _cloudzarr_error_in(seen)) is not None:
            chain.append(f"{type(err).__name__}: {err}")
            seen = seen.__context__
        if not chain:
            raise
        first, *later = dict.fromkeys(reversed(chain))
        lines = [first, *(f"and then: {m}" for m in later)]
        raise click.ClickException("\n".join(lines)) from None


def _cloudzarr_error_in(exc: BaseException) -> CloudzarrError | None:
    """``exc`` if it is a cloudzarr error, else the first one in an exception group (the
    bench's concurrent writes fail as a group)."""
    if isinstance(exc, CloudzarrError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _cloudzarr_error_in(inner)) is not None:
                return found
    return None


# Options that are always text, however they look: an all-digit secret or GCP project number
# turned into an int (losing leading zeros) would be refused by the backend, or worse, misread.
_TEXT_OPTIONS = frozenset(
    {"key", "secret", "token", "password", "username", "project", "account_name", "account_key",
     "sas_token", "connection_string", "client_id", "client_secret", "tenant_id", "profile",
     "region_name", "endpoint_url", "session_token"}
)  # fmt: skip


# Image formats matplotlib's Agg backend writes, by file suffix.
_PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def _check_output_path(path: str | None, option: str, *, suffixes: tuple[str, ...] = ()) -> None:
    if path is None:
        return
    target = Path(path).expanduser()
    folder = target.parent
    if not folder.is_dir():
        raise click.BadParameter(f"the folder {str(folder)!r} does not exist", param_hint=option)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"the folder {str(folder)!r} is not writable", param_hint=option)
    if suffixes and target.suffix.lower() not in suffixes:
        raise click.BadParameter(
            f"{path!r} has no image suffix; end it in one of {', '.join(suffixes)}",
            param_hint=option,
        )


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--storage-option")
        lowered = raw.lower()
        value: Any = raw
        if key in _TEXT_OPTIONS:
            pass
        elif lowered in ("true", "false"):
            value = lowered == "true"
        elif raw.isdigit():
            value = int(raw)
        options[key] = value
    return options


@dataclass
class Target:
    """What the bench or demo runs against."""

    url: str
    storage_options: dict[str, Any]
    description: str


@contextlib.contextmanager
def embedded_s3(proxy_delay: float = 0.0, *, bucket: str = "cloudzarr-bench") -> Iterator[Target]:
    """Start moto's S3 server on 127.0.0.1 (optionally behind a latency proxy), with a bucket.

    The server speaks S3's HTTP protocol, so requests go through the same client stack (s3fs,
    aiohttp, HTTP on a socket) as against a real bucket: the figures show object-store
    behaviour, minus a real network. Everything started is stopped on exit.
    """
    import importlib.util

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        raise click.UsageError(
            'the embedded S3 server needs moto and s3fs: pip install "moto[server]" '
            '"cloudzarr[s3]", or give a store URL'
        )
    from cloudzarr.tools.proxy import run_latency_proxy
    from moto_fixtures.servers import run_moto_server

    with run_moto_server() as server:
        server.create_bucket(bucket)
        options = dict(server.storage_options)
        description = f"embedded moto S3 server at {server.endpoint_url}"
        if proxy_delay > 0:
            port = int(server.endpoint_url.rsplit(":", 1)[1])
            with run_latency_proxy("127.0.0.1", port, delay=proxy_delay) as proxy:
                options["endpoint_url"] = proxy.url
                ms = proxy_delay * 1e3
                description += f" behind a proxy adding {ms:g} ms each way"
                yield Target(f"s3://{bucket}", options, description)
        else:
            yield Target(f"s3://{bucket}", options, description)


@contextlib.contextmanager
def _target(
    url: str | None, options: dict[str, Any], proxy_ms: float, *, bucket: str = "cloudzarr-bench"
) -> Iterator[Target]:
    if url is None:
        with embedded_s3(proxy_ms / 1e3, bucket=bucket) as target:
            yield target
        return
    if proxy_ms:
        raise click.UsageError("--proxy-latency applies only to the embedded server (no URL)")
    yield Target(url, options, url)


@cli.command()
@click.argument("url", required=False)
@click.option(
    "--storage-option",
    "-o",
    "storage_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for the store's backend (endpoint_url, key, anon...); repeatable.",
)
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

    options = _parse_options(storage_option)
    conc = _parse_ints(concurrency, "--concurrency")
    # Checked now, not after a run of minutes that could then not be saved.
    _check_output_path(json_path, "--json")
    _check_output_path(plot_path, "--plot", suffixes=_PLOT_SUFFIXES)
    try:
        config = BenchConfig(
            ops=_split(ops),
            sizes=[parse_size(s) for s in _split(sizes)],
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
    console = _console()
    with sigterm_as_interrupt(), _store_errors_as_usage():
        try:
            with _target(url, options, proxy_latency) as target:
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
    err = Console(stderr=True)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
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


@cli.command()
@click.option(
    "--url", default=None, help="Run against this store URL instead of a local S3 server."
)
@click.option(
    "--storage-option",
    "-o",
    "storage_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for the --url store's backend; repeatable.",
)
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

    options = _parse_options(storage_option)
    if latency < 0:
        raise click.UsageError("--latency must be non-negative")
    if keep and url is None:
        raise click.UsageError("--keep applies only with --url (the embedded server is stopped)")
    console = _console()
    with sigterm_as_interrupt(), _store_errors_as_usage():
        try:
            with _target(url, options, 0.0, bucket="cloudzarr-demo") as target:
                store_url = target.url if url is None else f"{url.rstrip('/')}/{unique_prefix()}"
                _run_demo(
                    Target(store_url, target.storage_options, target.description),
                    console,
                    latency / 1e3,
                    cleanup=url is not None and not keep,
                )
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]")
            sys.exit(130)


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
        f"{_compared(seq.seconds, walk.seconds)}.",
        highlight=False,
    )
    if cleanup:
        console.print(f"removed {target.url}", highlight=False)


def _compared(seconds: float, reference: float) -> str:
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


def _console() -> Console:
    # Piped output (a file, CI) gets a width that fits the whole table instead of 80 columns.
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)


def main() -> None:
    """Entry point of the ``cloudzarr`` console script."""
    cli()


if __name__ == "__main__":
    main()
