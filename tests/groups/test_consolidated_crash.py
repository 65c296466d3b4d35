"""Consolidated metadata is never silently stale, a writer killed midway (SIGKILL) included.

A writer creating groups under a consolidated root (one by one, or in one ``batch()``) is
killed at a random point, five times per backend and mode (ten kills per backend), each on its
own root, all at once.
Afterwards every reader sees exactly the nodes that exist: opened plainly (it walks a root
marked pending), or with ``use_consolidated=True`` (the consolidated listing matches the store,
or :class:`StaleConsolidatedMetadataError` says it cannot be trusted).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import StaleConsolidatedMetadataError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import LocalStore, Store

WORKER = Path(__file__).resolve().parent.parent / "cas_worker.py"
RUNS = 5
NODES = 24


def _env() -> dict[str, str]:
    root = str(WORKER.parent.parent)
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, extra]))}


async def _kill_at_random_point(
    argv: list[str], options: dict[str, Any], rng: random.Random
) -> bytes:
    """Start a worker, kill it at a random point; return everything it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert (await proc.stdout.readline()).strip() == b"ready"
    proc.stdin.write(json.dumps(options).encode() + b"\n")
    await proc.stdin.drain()
    printed = b""
    for _ in range(rng.randrange(NODES)):
        line = await proc.stdout.readline()
        printed += line
        if not line:
            break
    # Not a synchronisation: a random instant inside the next create (mark, create, unmark).
    await asyncio.sleep(rng.uniform(0, 0.01))
    proc.kill()
    rest, _ = await proc.communicate()  # reaps it and closes its pipes while the loop runs
    return printed + rest


async def readers_agree_with_the_store(store: Store) -> str:
    """Check every reader against a walk of the store; say whether the root was pending."""
    walked = {
        p async for p, _ in (await AsyncGroup.open(store, use_consolidated=False)).members(None)
    }
    plain = {p async for p, _ in (await AsyncGroup.open(store)).members(None)}
    assert plain == walked
    try:
        demanded = await AsyncGroup.open(store, use_consolidated=True)
    except StaleConsolidatedMetadataError:
        return "pending"
    cm = demanded.metadata.consolidated_metadata
    assert cm is not None
    assert set(cm.paths()) == walked
    return "clean"


@pytest.fixture(params=["local", "s3"])
def roots(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[Store], dict[str, Any]]:
    if request.param == "local":
        return [LocalStore(tmp_path / f"run{i}") for i in range(RUNS)], {}
    from cloudzarr.storage.s3 import S3Store

    bucket = request.getfixturevalue("s3_bucket")
    options = request.getfixturevalue("s3_storage_options")
    return [S3Store(bucket, f"run{i}", storage_options=options) for i in range(RUNS)], options


@pytest.mark.parametrize("mode", ["plain", "batch"])
async def test_killed_writer_never_leaves_trusted_stale_metadata(
    roots: tuple[list[Store], dict[str, Any]], mode: str
) -> None:
    stores, options = roots
    for store in stores:
        await aapi.create_group(store)
        await aapi.consolidate_metadata(store)
    rng = random.Random(f"{mode}-{type(stores[0]).__name__}")
    urls = [str(s.root) if isinstance(s, LocalStore) else s.url for s in stores]  # type: ignore[attr-defined]
    printed = await asyncio.gather(
        *(_kill_at_random_point(["crash", url, str(NODES), mode], options, rng) for url in urls)
    )
    outcomes = [await readers_agree_with_the_store(store) for store in stores]
    if mode == "batch":
        # A batch killed after its first create (which marked the root) and before its end
        # began never unmarks: the root stays pending.
        killed_inside = [b"created" in out and b"committing" not in out for out in printed]
        assert any(killed_inside)
        for inside, outcome in zip(killed_inside, outcomes, strict=True):
            assert outcome == "pending" or not inside
    # Re-consolidating clears the marks and lists what exists.
    for store in stores:
        await aapi.consolidate_metadata(store)
        assert await readers_agree_with_the_store(store) == "clean"
        await store.close()
