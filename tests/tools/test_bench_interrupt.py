"""Ctrl-C (SIGINT) or SIGTERM in the middle of a bench run: the bench prefix is removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_bench_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    target = tmp_path / "store"
    target.mkdir()
    (target / "user-key").write_bytes(b"mine")
    command = [sys.executable, "-m", "cloudzarr.tools.cli", "bench", str(target)]
    command += ["--ops", "put,get", "--sizes", "64KiB", "--concurrency", "4"]
    command += ["--requests", "1000000"]
    log_path = tmp_path / "bench.log"
    log = log_path.open("wb")
    # A file, not a pipe: a pipe nobody reads while polling could fill and stall the bench.
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Wait until the bench has written objects of its own: then it is mid-run.
        deadline = time.monotonic() + 60
        while len(_files(target)) < 5:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the bench never started writing"
            time.sleep(0.02)  # polling the file system, not synchronisation
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        log.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log_path.read_text()
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert _files(target) == [target / "user-key"]
