"""What every command shares: ``-o KEY=VALUE`` parsing, one ``Error:`` line on failure, the
store a URL names, the embedded S3 server, consoles and progress bars."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from cloudzarr.errors import CloudzarrError


def split_list(value: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_ints(value: str, option: str) -> list[int]:
    """A comma-separated list of integers, or a usage error naming ``option``."""
    try:
        return [int(part) for part in split_list(value)]
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of integers", param_hint=option
        ) from None


def storage_option_flag[F: Callable[..., Any]](func: F) -> F:
    """The ``-o/--storage-option KEY=VALUE`` option every command takes."""
    return click.option(
        "--storage-option",
        "-o",
        "storage_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="An option for the store's backend (endpoint_url, key, anon...); repeatable.",
    )(func)


@contextlib.contextmanager
def errors_as_one_line() -> Iterator[None]:
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
        while seen is not None and (err := cloudzarr_error_in(seen)) is not None:
            chain.append(f"{type(err).__name__}: {err}")
            seen = seen.__context__
        if not chain:
            raise
        first, *later = dict.fromkeys(reversed(chain))
        lines = [first, *(f"and then: {m}" for m in later)]
        raise click.ClickException("\n".join(lines)) from None


def cloudzarr_error_in(exc: BaseException) -> CloudzarrError | None:
    """``exc`` if it is a cloudzarr error, else the first one in an exception group (concurrent
    work fails as a group)."""
    if isinstance(exc, CloudzarrError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := cloudzarr_error_in(inner)) is not None:
                return found
    return None


# Options that are always text, however they look: an all-digit secret or GCP project number
# turned into an int (losing leading zeros) would be refused by the backend, or worse, misread.
_TEXT_OPTIONS = frozenset(
    {"key", "secret", "token", "password", "username", "project", "account_name", "account_key",
     "sas_token", "connection_string", "client_id", "client_secret", "tenant_id", "profile",
     "region_name", "endpoint_url", "session_token"}
)  # fmt: skip


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("anon=true", "key=K")`` -> ``{"anon": True, "key": "K"}`` (credentials stay text)."""
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


def checked_options(url: str, pairs: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``-o`` pairs and refuse a backend option name that does not exist, before any
    request (the message suggests the closest one)."""
    from cloudzarr.tools.options import check_storage_options

    options = parse_options(pairs)
    try:
        check_storage_options(url, options)
    except CloudzarrError as exc:
        raise click.BadParameter(str(exc), param_hint="--storage-option") from None
    return options


def target_options(url: str | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """The ``-o`` options of a command whose URL is optional (bench, demo): checked against the
    URL's backend; refused without a URL, where the embedded server would silently drop them."""
    if url is None:
        if pairs:
            raise click.BadParameter(
                "options apply to a URL's backend; the embedded S3 server takes none "
                "(give a URL to use them)",
                param_hint="--storage-option",
            )
        return {}
    return checked_options(url, pairs)


def open_url(url: str, options: dict[str, Any], **kwargs: Any) -> Any:
    """The store at ``url`` (a cloudzarr error on a bad URL becomes one ``Error:`` line)."""
    from cloudzarr.storage import open_store

    return open_store(url, storage_options=options or None, **kwargs)


# Image formats matplotlib's Agg backend writes, by file suffix.
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_output_path(path: str | None, option: str, *, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse, before a long run, an output file that could not be written at its end."""
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
    from cloudzarr.tools.servers import run_moto_server

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
def target(
    url: str | None, options: dict[str, Any], proxy_ms: float, *, bucket: str = "cloudzarr-bench"
) -> Iterator[Target]:
    """The store at ``url``, or the embedded S3 server when there is no URL."""
    if url is None:
        with embedded_s3(proxy_ms / 1e3, bucket=bucket) as found:
            yield found
        return
    if proxy_ms:
        raise click.UsageError("--proxy-latency applies only to the embedded server (no URL)")
    yield Target(url, options, url)


def console() -> Console:
    """The console for results (stdout)."""
    # Piped output (a file, CI) gets a width that fits the whole table instead of 80 columns.
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)


def progress_bar(*, transient: bool = True) -> Progress:
    """A progress bar on stderr, so that stdout stays the command's result."""
    err = Console(stderr=True)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=transient,
        # Redrawn lines are noise in a log or a pipe; the result on stdout says it all.
        disable=not err.is_terminal,
    )


@contextlib.contextmanager
def busy(description: str) -> Iterator[None]:
    """An indeterminate progress bar on stderr while a step of unknown length runs."""
    with progress_bar() as bar:
        bar.add_task(description, total=None)
        yield


def interrupted(message: str = "interrupted") -> None:
    """Say so on stderr and exit with the shell's status for SIGINT."""
    Console(stderr=True).print(f"[yellow]{message}[/yellow]")
    sys.exit(130)
