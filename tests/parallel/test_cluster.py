"""cloudzarr on a real ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.

The cluster runs in one child process (``cluster_job.py``), started once for the module, so
that the output of the client and of both worker processes, interpreter exit included, is
captured whole and checked for leaked sessions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moto_fixtures.servers import S3Server

JOB = Path(__file__).with_name("cluster_job.py")


@pytest.fixture(scope="module")
def job(s3_server: S3Server) -> tuple[dict[str, Any], str]:
    """The job's results and its whole output (client and workers, stdout and stderr)."""
    args = {"bucket": s3_server.create_bucket(), "storage_options": s3_server.storage_options}
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, str(JOB), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=root,
        env=env,
    )
    output = proc.stdout + proc.stderr
    print(output[-3000:])  # shown on failure: the timings and any worker complaint
    assert proc.returncode == 0, output
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, output
    return json.loads(lines[0].removeprefix("RESULT ")), output


def test_array_round_trip_is_exact(job: tuple[dict[str, Any], str]) -> None:
    result, _ = job
    assert result["array_exact"]
    assert result["array_mean_close"]
    # Read blocks are the shards (64 x 96), not the inner chunks.
    assert result["array_blocks"] == [[64, 64, 64, 64], [96]]


def test_progress_counts_every_shard_write(job: tuple[dict[str, Any], str]) -> None:
    result, _ = job
    # Source blocks of 40 rows are regrouped onto 64-row shards: 4 writers, one per shard.
    assert result["progress"] == [[0, 4], [1, 4], [2, 4], [3, 4], [4, 4]]


def test_hierarchy_round_trip_is_exact(job: tuple[dict[str, Any], str]) -> None:
    result, _ = job
    assert result["tree_members"] == ["a", "g", "g/b", "g/h", "g/h/c"]
    assert result["tree_exact"]


def test_one_client_per_worker_after_1000_unpickles(job: tuple[dict[str, Any], str]) -> None:
    result, _ = job
    assert result["corners_exact"]
    # Every task unpickled the array (read-only) after others wrote through a writable copy of
    # the same store configuration: one shared S3 client in each worker process (obstore: no
    # aiohttp session at all).
    assert result["sessions_per_worker"] == [
        {"clients": 1, "aiohttp_sessions": 0, "open_sessions": 0},
        {"clients": 1, "aiohttp_sessions": 0, "open_sessions": 0},
    ]


def test_no_unclosed_session_in_any_output(job: tuple[dict[str, Any], str]) -> None:
    _, output = job
    assert "Unclosed client session" not in output
    assert "Unclosed connector" not in output
