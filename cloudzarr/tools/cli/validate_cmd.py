"""``cloudzarr validate``: every document parses; with ``--deep`` every chunk decodes."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import click

from cloudzarr.tools.cli.browse import run
from cloudzarr.tools.cli.common import (
    checked_options,
    console,
    errors_as_one_line,
    open_url,
    progress_bar,
    storage_option_flag,
)

#: Document name -> what it must describe.
_DOCUMENTS = {"zarr.json": 3, ".zarray": 2, ".zgroup": 2}


@dataclass
class Validation:
    """What a validation found: problems as ``(where, what)``, and what was checked."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    nodes: int = 0
    chunks: int = 0


def _problem_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def validate(store: Any, *, deep: bool, progress: Any = None) -> Validation:
    """Check every node document under the store's root (and every chunk with ``deep``)."""
    from cloudzarr.api.asynchronous import open as open_any
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.jsonio import load_document

    found = Validation()
    keys = [key async for key in store.list_prefix("")]
    folders: set[str] = set()
    broken: set[str] = set()  # folders whose documents are already reported
    for key in keys:
        folder, _, name = key.rpartition("/")
        if name in _DOCUMENTS or name in (".zattrs", ".zmetadata"):
            raw = await store.get(key)
            try:
                load_document(raw or b"", key)
            except Exception as exc:
                found.problems.append((key, _problem_text(exc)))
                broken.add(folder)
                continue
            if name in _DOCUMENTS:
                folders.add(folder)
    if not folders:
        found.problems.append(("/", "no Zarr node document (zarr.json, .zgroup, .zarray) found"))
    arrays: list[tuple[str, Any]] = []
    for folder in sorted(folders - broken):
        try:
            node = await open_any(store, path=folder, mode="r")
        except Exception as exc:
            found.problems.append((folder or "/", _problem_text(exc)))
            continue
        found.nodes += 1
        if isinstance(node, AsyncArray):
            arrays.append((folder, node))
    if deep:
        units = [(folder, node, _chunk_regions(node)) for folder, node in arrays]
        total = sum(len(regions) for _, _, regions in units)
        done = 0
        for folder, node, regions in units:
            for region in regions:
                try:
                    await node.getitem(region)
                except Exception as exc:
                    where = f"{folder or '/'} chunk {_region_text(region)}"
                    found.problems.append((where, _problem_text(exc)))
                found.chunks += 1
                done += 1
                if progress is not None:
                    progress(done, total)
    return found


def _chunk_regions(array: Any) -> list[tuple[slice, ...]]:
    shape, chunks = tuple(array.shape), tuple(array.chunks)
    grid = [math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True)]
    return [
        tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, shape, strict=True))
        for idx in itertools.product(*(range(g) for g in grid))
    ]


def _region_text(region: tuple[slice, ...]) -> str:
    return "[" + ", ".join(f"{s.start}:{s.stop}" for s in region) + "]"


@click.command(name="validate")
@click.argument("url")
@storage_option_flag
@click.option("--deep", is_flag=True, help="Also read and decode every chunk.")
def validate_cmd(url: str, storage_option: tuple[str, ...], deep: bool) -> None:
    """Check the hierarchy at URL: every document parses (and every chunk decodes with --deep).

    Prints what is wrong, one line each; exits 1 if anything is.
    """
    options = checked_options(url, storage_option)
    with errors_as_one_line(), progress_bar() as bar:
        task = bar.add_task("decoding chunks", total=None)
        store = open_url(url, options, read_only=True)
        result = run(
            validate(
                store,
                deep=deep,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
        )
    out = console()
    for where, what in result.problems:
        out.print(f"[red]BAD[/red] {where}: {what}", highlight=False)
    checked = f"{result.nodes} node(s)" + (f", {result.chunks} chunk(s) decoded" if deep else "")
    if result.problems:
        out.print(f"{len(result.problems)} problem(s); checked {checked}", highlight=False)
        raise SystemExit(1)
    out.print(f"OK: {checked}", highlight=False)
