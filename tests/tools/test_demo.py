"""``cloudzarr demo`` end to end in a subprocess: the printed request counts are the ones the
engine guarantees, it finishes, and it leaves no server running."""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from cloudzarr.tools.demo import sample_groups, sample_variables

ROOT = Path(__file__).resolve().parents[2]


def _row(output: str, phase: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[1] == phase:
            return cells[1:-1]
    raise AssertionError(f"no row {phase!r} in:\n{output}")


def _kinds(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", text)}


def _moto_processes(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"cloudzarr.tools._moto_main" in cmd and str(port).encode() in cmd:
            found.append(int(entry.name))
    return found


def test_demo_prints_the_guaranteed_request_counts_and_stops_everything() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "cloudzarr.tools.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-4000:]

    groups = len(sample_groups())  # the root included
    variables = sample_variables()
    nodes = groups - 1 + len(variables)
    chunks = sum(
        math.prod(math.ceil(s / c) for s, c in zip(v.shape, v.chunks, strict=True))
        for v in variables
    )

    write = _row(out, "write dataset")
    # One document per node (the root too) and one object per chunk, each one PUT.
    assert _kinds(write[3]) == {"PutObject": nodes + 1 + chunks}

    # The request figures: 24 GETs at each concurrency, each with a time to first byte.
    gets = [line.split("│") for line in out.splitlines() if line.startswith("│ get ")]
    assert [cells[4].strip() for cells in gets] == ["24", "24"]
    assert all(cells[7].strip().endswith(("ms", "µs")) for cells in gets), gets

    cons = _row(out, "open + list, consolidated")
    # The whole hierarchy from one GET of the root document, nothing listed.
    assert cons[1] == str(nodes)
    assert cons[2] == "1"
    assert _kinds(cons[3]) == {"GetObject": 1}

    for phase in ("open + list, cloudzarr walk", "open + list, zarr-python order"):
        row = _row(out, phase)
        assert row[1] == str(nodes), phase
        # The root's document, one per node, and one listing of each group (one page each).
        assert _kinds(row[3]) == {"GetObject": 1 + nodes, "ListObjectsV2": groups}, phase

    walk = _row(out, "open + list, cloudzarr walk")
    seq = _row(out, "open + list, zarr-python order")
    # cloudzarr lists sibling subtrees at once; the zarr-python order never does.
    assert int(walk[5]) > int(seq[5])

    match = re.search(r"embedded moto S3 server at http://127\.0\.0\.1:(\d+)", out)
    assert match, out
    port = int(match.group(1))
    assert _moto_processes(port) == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_on_a_url_removes_its_dataset(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cloudzarr.tools.cli", "demo", "--url", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "removed" in done.stdout
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    # Local requests are counted per operation: one get for the consolidated open.
    assert _kinds(_row(done.stdout, "open + list, consolidated")[3]) == {"get": 1}


def test_interrupted_demo_leaves_no_server(tmp_path: Path) -> None:
    import signal
    import time

    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cloudzarr.tools.cli", "demo"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            # Mid-run: the server is up and the dataset is being written.
            while "dataset at" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.02)  # polling the log, not synchronisation
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    out = log_path.read_text()
    assert proc.returncode == 130, out
    match = re.search(r"embedded moto S3 server at http://127\.0\.0\.1:(\d+)", out)
    assert match, out
    assert _moto_processes(int(match.group(1))) == []
