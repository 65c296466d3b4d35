"""``python -m benchmarks --quick``: every benchmark runs once, tiny, and the page is complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import (
    BENCHMARKS,
    BenchmarkMissingError,
    generic_markdown,
    load,
    machine,
    versions,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_quick_run_of_every_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    # A missing or failing benchmark fails the run: none may rot unnoticed.
    assert done.returncode == 0, done.stderr[-5000:]
    text = out.read_text()
    # The page is printed too (a benchmark may print its own progress before it).
    assert text.strip() in done.stdout
    assert text.startswith("# cloudzarr benchmark results")
    assert "cores" in text
    assert "zarr 3.4.2" in text
    for name in BENCHMARKS:
        assert f"\n## {name}\n" in text, name
    assert "**failed**" not in text
    assert "missing" not in text


def test_page_parts() -> None:
    m = machine()
    assert int(m["cores"]) >= 1
    assert m["memory"].endswith("GiB")
    assert "numpy" in versions()
    table = generic_markdown([{"a": 1.23456, "b": "x"}, {"a": 2, "c": None}])
    assert table.splitlines()[0] == "| a | b | c |"
    assert table.splitlines()[2] == "| 1.235 | x |  |"


def test_a_missing_benchmark_is_an_error_not_a_skip() -> None:
    with pytest.raises(BenchmarkMissingError, match=r"benchmarks\.bench_nowhere does not exist"):
        load("nowhere", "benchmarks.bench_nowhere")
    # A module without run() is refused too.
    with pytest.raises(BenchmarkMissingError, match="has no run"):
        load("init", "benchmarks")
    assert callable(load("overhead").run)
