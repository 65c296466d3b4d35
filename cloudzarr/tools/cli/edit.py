"""Commands that change a hierarchy: ``consolidate``, ``rm``, ``mv``, ``cp``."""

from __future__ import annotations

from typing import Any

import click

from cloudzarr.tools.cli.browse import open_node, run
from cloudzarr.tools.cli.common import (
    busy,
    checked_options,
    console,
    errors_as_one_line,
    open_url,
    parse_ints,
    progress_bar,
    storage_option_flag,
)


@click.command()
@click.argument("url")
@storage_option_flag
def consolidate(url: str, storage_option: tuple[str, ...]) -> None:
    """Write the consolidated metadata of the group at URL (one read opens it afterwards)."""
    from cloudzarr.api.asynchronous import consolidate_metadata

    options = checked_options(url, storage_option)

    async def work() -> int:
        group = await consolidate_metadata(open_url(url, options))
        return await group.nmembers(max_depth=None)

    with errors_as_one_line(), busy("consolidating"):
        count = run(work())
    console().print(f"consolidated {count} node(s) under {url}", highlight=False)


def _parent_and_name(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.rstrip("/").rpartition("://")
    head, _, name = rest.rpartition("/")
    return (f"{scheme}{sep}{head}" if head else ""), name


@click.command()
@click.argument("url")
@storage_option_flag
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def rm(url: str, storage_option: tuple[str, ...], yes: bool) -> None:
    """Delete the group or array at URL and everything below it.

    When URL's parent is a group, the node is removed through it, so the parent's consolidated
    metadata stops listing it.
    """
    from cloudzarr.groups import AsyncGroup

    options = checked_options(url, storage_option)

    async def describe() -> str:
        node = await open_node(open_url(url, options, read_only=True))
        if isinstance(node, AsyncGroup):
            return f"group with {await node.nmembers(max_depth=None)} node(s) below it"
        return f"array {tuple(node.shape)} {node.dtype}"

    with errors_as_one_line():
        what = run(describe())
    if not yes:
        click.confirm(f"delete {url} ({what})?", abort=True, err=True)
    parent_url, name = _parent_and_name(url)

    async def delete() -> None:
        if parent_url:
            try:
                parent = await open_node(open_url(parent_url, options))
            except Exception:
                parent = None  # no node above: URL is the root of its hierarchy
            if isinstance(parent, AsyncGroup):
                writable = await AsyncGroup.open(open_url(parent_url, options))
                await writable.delitem(name)
                return
        await open_url(url, options).delete_dir("")

    with errors_as_one_line(), busy("deleting"):
        run(delete())
    console().print(f"deleted {url}", highlight=False)


@click.command()
@click.argument("url")
@click.argument("source")
@click.argument("dest")
@storage_option_flag
def mv(url: str, source: str, dest: str, storage_option: tuple[str, ...]) -> None:
    """Move the node SOURCE to DEST, both paths inside the group at URL.

    Object stores cannot rename: the subtree is copied, DEST appears atomically once complete,
    then SOURCE is deleted (see Group.move).
    """
    from cloudzarr.groups import AsyncGroup

    options = checked_options(url, storage_option)

    async def work() -> None:
        group = await AsyncGroup.open(open_url(url, options))
        await group.move(source, dest)

    with errors_as_one_line(), busy("moving"):
        run(work())
    console().print(f"moved {source} to {dest} in {url}", highlight=False)


def _parse_shards(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(parse_ints(value.replace("x", ","), "--shards"))


@click.command()
@click.argument("src")
@click.argument("dst")
@storage_option_flag
@click.option(
    "--dst-storage-option",
    "-O",
    "dst_storage_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for DST's backend (default: the -o options when both are on one backend).",
)
@click.option(
    "--zarr-format", type=click.Choice(["2", "3"]), default=None, help="Convert to this format."
)
@click.option(
    "--shards",
    default=None,
    metavar="AxB...",
    help="Re-encode arrays of as many dimensions into shards of this shape (whole chunks).",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=32, show_default=True, help="In flight."
)
@click.option("--checksum", is_flag=True, help="Compare bytes, not sizes, when resuming.")
def cp(
    src: str,
    dst: str,
    storage_option: tuple[str, ...],
    dst_storage_option: tuple[str, ...],
    zarr_format: str | None,
    shards: str | None,
    jobs: int,
    checksum: bool,
) -> None:
    """Copy the hierarchy at SRC to DST (any store to any store).

    Resumable: a re-run skips objects already at DST with the same size. Node documents are
    written after all data, the root's last, so a copy cut short never looks complete.
    --zarr-format 3 converts a v2 hierarchy (codecs and attributes included); --shards re-encodes
    every array into shards of that shape (v3).
    """
    from cloudzarr.tools.copy import convert_hierarchy, copy_objects

    if dst.rstrip("/").startswith(src.rstrip("/") + "/"):
        raise click.UsageError(f"DST {dst!r} is inside SRC {src!r}: it would copy into itself")
    src_options = checked_options(src, storage_option)
    same_backend = src.split("://", 1)[0] == dst.split("://", 1)[0] and "://" in src
    dst_pairs = dst_storage_option or (storage_option if same_backend else ())
    dst_options = checked_options(dst, dst_pairs)
    shard_shape = _parse_shards(shards)
    fmt = int(zarr_format) if zarr_format else None
    if shard_shape is not None and fmt == 2:
        raise click.UsageError("--shards needs Zarr format 3 (sharding is a v3 codec)")

    with errors_as_one_line(), progress_bar() as bar:
        task = bar.add_task("copying", total=None)

        def tick(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        source = open_url(src, src_options, read_only=True, concurrency=jobs)
        target = open_url(dst, dst_options, concurrency=jobs)

        async def work() -> Any:
            if fmt is None and shard_shape is None:
                return await copy_objects(
                    source, target, concurrency=jobs, checksum=checksum, progress=tick
                )
            node = await open_node(source)
            target_format = fmt or (3 if shard_shape else node.zarr_format)
            return await convert_hierarchy(
                source,
                target,
                zarr_format=target_format,
                shards=shard_shape,
                concurrency=jobs,
                progress=tick,
            )

        report = run(work())
    if report.converted:
        done = f"re-encoded {report.copied} chunk or shard region(s)"
    else:
        done = f"copied {report.copied} object(s) ({report.bytes_copied:,} bytes)"
    console().print(
        f"{done}, skipped {report.skipped} already there, wrote {report.documents} "
        f"document(s): {src} -> {dst}",
        highlight=False,
    )
