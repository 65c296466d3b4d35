"""Commands that look without changing anything: ``tree``, ``info``, ``ls``, ``du``.

Every URL may point into a hierarchy (``s3://bucket/data.zarr/group/array``): the store is
opened there and the node at its root is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from typing import Any

import click
from rich.table import Table

from cloudzarr.tools.cli.common import (
    busy,
    checked_options,
    console,
    errors_as_one_line,
    interrupted,
    open_url,
    progress_bar,
    storage_option_flag,
)


def run[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` so that Ctrl-C cancels it cleanly (then exit 130)."""
    from cloudzarr.tools.interrupt import run_interruptibly, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            return run_interruptibly(coro)
    except KeyboardInterrupt:
        interrupted()
        raise  # not reached: interrupted() exits


async def open_node(store: Any) -> Any:
    """The group or array at the root of ``store`` (read-only)."""
    from cloudzarr.api.asynchronous import open as open_any

    return await open_any(store, mode="r")


def _kind(node: Any) -> str:
    from cloudzarr.groups import AsyncGroup

    return "group" if isinstance(node, AsyncGroup) else "array"


@click.command()
@click.argument("url")
@storage_option_flag
@click.option("--level", "-L", type=click.IntRange(min=0), default=None, help="Depth shown.")
def tree(url: str, storage_option: tuple[str, ...], level: int | None) -> None:
    """Show the hierarchy at URL as a tree, with array shapes and dtypes."""
    options = checked_options(url, storage_option)

    async def work() -> str:
        node = await open_node(open_url(url, options, read_only=True))
        if _kind(node) == "array":
            return f"{node.basename or '/'} {tuple(node.shape)} {node.dtype}"
        return str(await node.tree(level))

    with errors_as_one_line(), busy("reading"):
        text = run(work())
    click.echo(text)


@click.command()
@click.argument("url")
@storage_option_flag
def info(url: str, storage_option: tuple[str, ...]) -> None:
    """Describe the group or array at URL (as Group.info_complete / Array.info_complete)."""
    options = checked_options(url, storage_option)

    async def work() -> str:
        node = await open_node(open_url(url, options, read_only=True))
        return str(await node.info_complete())

    with errors_as_one_line(), busy("reading"):
        text = run(work())
    click.echo(text)


@click.command(name="ls")
@click.argument("url")
@storage_option_flag
def ls(url: str, storage_option: tuple[str, ...]) -> None:
    """List the children of the group at URL: name, kind, shape, dtype, chunks."""
    options = checked_options(url, storage_option)

    async def work() -> list[tuple[str, Any]]:
        node = await open_node(open_url(url, options, read_only=True))
        if _kind(node) == "array":
            return [(node.basename or "/", node)]
        return sorted([item async for item in node.members()], key=lambda m: m[0])

    with errors_as_one_line(), busy("listing"):
        members = run(work())
    table = Table(header_style="bold", box=None)
    for name in ("name", "kind", "shape", "dtype", "chunks"):
        table.add_column(name)
    for name, node in members:
        if _kind(node) == "array":
            table.add_row(
                name, "array", str(tuple(node.shape)), str(node.dtype), str(tuple(node.chunks))
            )
        else:
            table.add_row(name, "group", "", "", "")
    console().print(table)


async def sizes_under(store: Any, *, concurrency: int = 32, progress: Any = None) -> dict[str, int]:
    """Every key under the store's root with its size in bytes (one HEAD per object, sent
    concurrently: object listings do not carry sizes through the Store interface)."""
    from cloudzarr.tools.copy import run_bounded

    keys = [key async for key in store.list_prefix("")]
    sizes: dict[str, int] = {}
    if progress is not None:
        progress(0, len(keys))

    async def one(key: str) -> None:
        sizes[key] = await store.getsize(key)
        if progress is not None:
            progress(len(sizes), len(keys))

    await run_bounded((functools.partial(one, k) for k in keys), concurrency)
    return sizes


def human_bytes(n: int) -> str:
    """1536 -> ``"1.5 KiB"``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@click.command()
@click.argument("url")
@storage_option_flag
@click.option("--by-child", is_flag=True, help="One line per top-level child.")
@click.option("--bytes", "exact", is_flag=True, help="Exact byte counts instead of KiB/MiB.")
def du(url: str, storage_option: tuple[str, ...], by_child: bool, exact: bool) -> None:
    """Bytes stored and objects under URL (all keys: chunks and documents)."""
    options = checked_options(url, storage_option)
    with errors_as_one_line(), progress_bar() as bar:
        task = bar.add_task("sizing", total=None)
        store = open_url(url, options, read_only=True)
        sizes = run(
            sizes_under(store, progress=lambda d, t: bar.update(task, completed=d, total=t))
        )
    fmt = str if exact else human_bytes
    out = console()
    if by_child:
        groups: dict[str, list[int]] = {}
        for key, size in sizes.items():
            head = key.split("/", 1)[0] if "/" in key else "(own documents)"
            groups.setdefault(head, []).append(size)
        table = Table(header_style="bold", box=None)
        for name in ("child", "bytes", "objects"):
            table.add_column(name, justify="left" if name == "child" else "right")
        for name in sorted(groups):
            table.add_row(name, fmt(sum(groups[name])), str(len(groups[name])))
        out.print(table)
    total = sum(sizes.values())
    out.print(f"{fmt(total)}\t{len(sizes)} objects\t{url}", highlight=False)


__all__ = ["du", "info", "ls", "open_node", "run", "tree"]
