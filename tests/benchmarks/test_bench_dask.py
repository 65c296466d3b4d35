"""The dask benchmark runs end to end at a tiny size (figures are not asserted, shape is).

It starts a LocalCluster with processes, so it runs as a script (``__main__`` guard).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_array_shape() -> None:
    from benchmarks.bench_dask import array_shape

    assert array_shape(512 * 2**20) == (128, 1024, 1024)
    assert array_shape(4 * 2**20) == (1, 1024, 1024)
    assert array_shape(2**20) == (1, 512, 512)


@pytest.mark.timeout(400)
def test_tiny_run_reports_every_case(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_dask.py", "--size", "4MiB", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=380, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    rows = json.loads(out.read_text())
    cases = {(r["library"], r["scheduler"], r["operation"]) for r in rows}
    assert cases == {
        (lib, sched, op)
        for lib in ("cloudzarr", "zarr")
        for sched in ("threads", "processes")
        for op in ("store", "mean")
    }
    for row in rows:
        assert row["seconds"] > 0 and row["nbytes"] == 4 * 2**20
        assert ("x_threads" in row) == (row["scheduler"] == "processes")
        assert ("speedup" in row) == (row["library"] == "cloudzarr")
    # Both libraries stored the same random data: the same mean on every scheduler.
    means = {r["mean"] for r in rows if r["operation"] == "mean"}
    assert max(means) - min(means) < 1e-6
    assert "| x threads |" in done.stdout
