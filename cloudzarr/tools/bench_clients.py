"""``cloudzarr bench --clients N``: N processes bench one target at once; their samples merge.

Each client is ``cloudzarr bench`` in its own process (its own event loop, connection pool and
CPU time: one Python process cannot saturate a fast store), with its own prefix. The storage
options reach it through the environment, never its command line (which ``ps`` shows). The
parent reads every client's ``--raw`` samples and recomputes each cell's figures from all of
them, so percentiles stay exact; a cell's wall time is the longest client's, and its
throughput is all clients' requests over that time. Cells line up in time across clients when
the run is timed (``--duration``); with ``--requests`` a faster client may start its next cell
earlier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cloudzarr.errors import CloudzarrError
from cloudzarr.tools.bench import BenchRecord, make_record
from cloudzarr.tools.bench_output import read_rows
from cloudzarr.tools.bench_stats import Sample

#: The environment variable a client reads its storage options from (JSON).
OPTIONS_ENV = "CLOUDZARR_BENCH_STORAGE_OPTIONS"


def client_options() -> dict[str, Any]:
    """The storage options handed to this client process by its parent."""
    raw = os.environ.get(OPTIONS_ENV)
    return dict(json.loads(raw)) if raw else {}


def run_clients(
    n: int,
    url: str,
    storage_options: Mapping[str, Any],
    bench_args: Sequence[str],
    *,
    wait: Callable[[list[subprocess.Popen[bytes]]], None] | None = None,
) -> list[BenchRecord]:
    """Run ``n`` bench clients on ``url`` with ``bench_args`` and merge their samples.

    Raises
    ------
    CloudzarrError
        A client failed (its last output lines are in the message).
    """
    with tempfile.TemporaryDirectory(prefix="cloudzarr-clients-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, OPTIONS_ENV: json.dumps(dict(storage_options))}
        procs: list[subprocess.Popen[bytes]] = []
        logs = []
        for i in range(n):
            command = [sys.executable, "-m", "cloudzarr.tools.cli", "bench", url, *bench_args]
            command += ["--raw", str(folder / f"{i}.jsonl"), "--json", str(folder / f"{i}.json")]
            command += ["--client-id", str(i)]
            log = (folder / f"{i}.log").open("wb")
            logs.append(log)
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        try:
            if wait is not None:
                wait(procs)
            for proc in procs:
                proc.wait()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()  # our own children only; they clean up their prefix
                    proc.wait()
            for log in logs:
                log.close()
        for i, proc in enumerate(procs):
            if proc.returncode != 0:
                tail = (folder / f"{i}.log").read_text(errors="replace").strip().splitlines()
                raise CloudzarrError(
                    f"bench client {i} exited with status {proc.returncode}: "
                    + " | ".join(tail[-3:])
                )
        return merge_clients([folder / f"{i}.json" for i in range(n)],
                             [folder / f"{i}.jsonl" for i in range(n)])  # fmt: skip


def merge_clients(json_paths: Sequence[Path], raw_paths: Sequence[Path]) -> list[BenchRecord]:
    """Records recomputed from every client's samples, in the first client's cell order."""
    walls: dict[tuple[str, int, int, str], float] = {}
    order: list[tuple[str, int, int, str]] = []
    for path in json_paths:
        _, rows = read_rows(path)
        for row in rows:
            key = (row["op"], row["size"], row["concurrency"], row.get("workload", "single"))
            if key not in walls:
                order.append(key)
            walls[key] = max(walls.get(key, 0.0), float(row["wall_s"]))
    samples: dict[tuple[int, int, str], list[Sample]] = {}
    for path in raw_paths:
        with path.open() as lines:
            for line in lines:
                r = json.loads(line)
                sample = Sample(
                    r["op"], r["start_s"], r["end_s"], r["ttfb_s"], r["ok"], r["bytes"],
                    r["client"],
                )  # fmt: skip
                cell = (r["size"], r["concurrency"], r["workload"] if r["workload"] == "mix"
                        else r["op"])  # fmt: skip
                samples.setdefault(cell, []).append(sample)
    records = []
    for op, size, conc, workload in order:
        cell_op = "mix" if workload == "mix" else op
        found = samples.get((size, conc, cell_op), [])
        if workload == "mix" and op != "mix":
            found = [s for s in found if s.op == op]
        records.append(make_record(op, size, conc, found, walls[(op, size, conc, workload)],
                                   workload))  # fmt: skip
    return records
