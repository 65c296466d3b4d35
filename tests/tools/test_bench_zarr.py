"""bench --zarr: the Zarr workloads run, report their figures and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudzarr.storage import LocalStore, MemoryStore
from cloudzarr.tools.bench_zarr import (
    create_race,
    hedging_effect,
    parse_workloads,
    ramp,
    shard_read,
)
from cloudzarr.tools.cli import cli
from moto_fixtures.servers import S3Server


def test_parse_workloads() -> None:
    assert parse_workloads("all") == [
        "open", "read-chunks", "shard-read", "create-race", "ramp", "hedging", "cache",
    ]  # fmt: skip
    assert parse_workloads(None, hierarchy=True) == ["open"]
    with pytest.raises(ValueError, match="'fly'"):
        parse_workloads("open,fly")


def test_cli_runs_zarr_workloads_and_cleans_up(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    args = ["bench", str(folder), "--zarr", "read-chunks,shard-read,create-race,hedging,cache"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "chunks / s" in result.output
    assert "GET requests per inner-chunk read" in result.output
    assert "winners per round (must be 1)" in result.output
    assert "only cloud stores hedge GETs" in result.output
    assert "second pass: requests to the store" in result.output
    assert [p for p in folder.rglob("*") if p.is_file()] == []


async def test_shard_read_reads_index_and_chunk_only(tmp_path: Path) -> None:
    table = await shard_read(LocalStore(tmp_path))
    cells = dict(zip(table.columns[0].cells, table.columns[1].cells, strict=True))
    # One inner chunk of a shard: its index, then the chunk itself; never the whole shard.
    assert str(cells["GET requests per inner-chunk read"]) == "2.00"


async def test_create_race_has_one_winner() -> None:
    table = await create_race(MemoryStore(), writers=8, rounds=3)
    assert list(table.columns[1].cells) == ["1, 1, 1"]


async def test_ramp_reports_where_throttling_begins() -> None:
    from cloudzarr.storage.faults import FaultStore

    throttling = FaultStore(MemoryStore(), error_rate=0.05, seed=1, kinds=["throttled"],
                            operations=["get"])  # fmt: skip
    table = await ramp(throttling, step_s=0.05, max_concurrency=8)
    rows = dict(zip(table.columns[0].cells, table.columns[1].cells, strict=True))
    assert str(rows["verdict"]).startswith("throttling (429/503) began at about")
    assert "throttled" in str(rows["concurrency 1"]) and len(rows) == 2


async def test_ramp_ends_with_a_verdict() -> None:
    table = await ramp(MemoryStore(), step_s=0.05, max_concurrency=8)
    verdict = list(table.columns[1].cells)[-1]
    assert "no throttling" in str(verdict)


async def test_hedging_sends_at_most_its_budget_more(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    table = await hedging_effect(f"s3://{bucket}", dict(s3_server.storage_options), requests=200)
    cells = dict(zip(table.columns[0].cells, table.columns[1].cells, strict=True))
    assert cells["hedging off: requests sent"] == "200 for 200 GETs"
    sent_on = str(cells["hedging on: requests sent"])
    sent = int(sent_on.split()[0])
    # The budget: at most 5 % more GETs than asked for.
    assert 200 <= sent <= 210, sent_on


async def test_cache_workload_serves_the_second_pass_from_memory() -> None:
    from cloudzarr.tools.bench_zarr import cache_effect

    table = await cache_effect(MemoryStore(), n=8, side=16)
    cells = dict(zip(table.columns[0].cells, table.columns[1].cells, strict=True))
    assert cells["first pass: requests to the store"] == "8"
    assert cells["second pass: requests to the store"] == "0"
    assert cells["cache hits / misses"].startswith("8 / ")  # misses include opening
