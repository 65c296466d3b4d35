"""``python -m benchmarks`` (``make bench``): run every benchmark and write one results page.

Each benchmark module exposes ``run(...) -> list[dict]`` and, optionally, ``to_markdown(rows)``
and ``QUICK`` (the keyword arguments of a tiny run). The page, written to
``benchmarks/results/RESULTS.md`` and printed, starts with the date, the machine (CPU, cores,
memory) and the versions of everything measured, then has one table per benchmark.

A benchmark that is missing, or has no ``run``, is an error (exit status 1), never skipped in
silence: a results page without it would look complete. ``--allow-missing`` runs what exists
and lists what is missing on the page.

Usage::

    python -m benchmarks                 # full sizes; minutes
    python -m benchmarks --quick         # every benchmark once, tiny (results/RESULTS-quick.md)
    python -m benchmarks --only overhead --output /tmp/results.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

#: Benchmark name -> module. Order is the order on the page.
BENCHMARKS: dict[str, str] = {
    "hierarchy": "benchmarks.bench_hierarchy",
    "arrays": "benchmarks.bench_arrays",
    "overhead": "benchmarks.bench_overhead",
    "dask": "benchmarks.bench_dask",
    "requests": "benchmarks.bench_requests",
    "consolidated": "benchmarks.bench_consolidated",
}

#: Tiny-run arguments for modules that define no ``QUICK`` of their own.
FALLBACK_QUICK: dict[str, dict[str, Any]] = {
    "arrays": {"size": "1MiB", "repeat": 1},
}

VERSIONED = (
    "cloudzarr",
    "zarr",
    "numpy",
    "numcodecs",
    "fsspec",
    "s3fs",
    "gcsfs",
    "adlfs",
    "aiohttp",
    "dask",
    "distributed",
    "xarray",
    "moto",
    "obstore",
    "tensorstore",
)

RESULTS = Path(__file__).resolve().parent / "results" / "RESULTS.md"


class BenchmarkMissingError(RuntimeError):
    """A benchmark module is absent or has no ``run``."""


def load(name: str, module_name: str | None = None) -> ModuleType:
    """Import benchmark ``name`` (from ``module_name``, by default its entry in
    :data:`BENCHMARKS`) and check it has ``run``."""
    module_name = module_name or BENCHMARKS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise BenchmarkMissingError(
                f"benchmark {name!r}: module {module_name} does not exist"
            ) from exc
        raise
    if not callable(getattr(module, "run", None)):
        raise BenchmarkMissingError(f"benchmark {name!r}: {module_name} has no run() function")
    return module


def quick_arguments(name: str, module: ModuleType) -> dict[str, Any]:
    """The keyword arguments of a tiny run of ``module``."""
    quick = getattr(module, "QUICK", None)
    if isinstance(quick, dict):
        return dict(quick)
    if name in FALLBACK_QUICK:
        return dict(FALLBACK_QUICK[name])
    return {"quick": True}


def machine() -> dict[str, str]:
    """CPU model, core count and memory of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "load": load,
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    """Installed versions of the libraries the benchmarks touch (absent ones left out)."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def generic_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as a markdown table with one column per key (for modules without their own)."""
    if not rows:
        return "_no rows_"
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value) if value is not None else ""

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def page(sections: Sequence[tuple[str, str, float]], *, quick: bool, missing: Sequence[str]) -> str:
    """The whole results page."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    m = machine()
    lines = [
        "# cloudzarr benchmark results",
        "",
        f"- date: {now}{' (quick run: tiny sizes, not for comparison)' if quick else ''}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']} memory; {m['os']}",
        f"- load average when the page was written (1, 5, 15 min): {m['load']}",
        f"- python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "- command: `python -m benchmarks" + (" --quick`" if quick else "`"),
        "",
    ]
    if missing:
        lines += [f"**Not run (missing): {', '.join(missing)}**", ""]
    for name, table, seconds in sections:
        lines += [f"## {name}", "", f"_{seconds:.1f} s_", "", table, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; exit 1 if one is missing or fails."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="every benchmark once, tiny")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help=f"results page (default {RESULTS})"
    )
    parser.add_argument(
        "--allow-missing", action="store_true", help="run what exists instead of failing"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {', '.join(BENCHMARKS)}")

    modules: dict[str, ModuleType] = {}
    missing: list[str] = []
    for name in names:
        try:
            modules[name] = load(name)
        except BenchmarkMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            missing.append(name)
    if missing and not args.allow_missing:
        print(
            f"error: {len(missing)} benchmark(s) missing ({', '.join(missing)}); "
            "pass --allow-missing to run the others",
            file=sys.stderr,
        )
        return 1

    sections: list[tuple[str, str, float]] = []
    failed: list[str] = []
    for name, module in modules.items():
        kwargs = quick_arguments(name, module) if args.quick else {}
        print(f"running {name} {kwargs or ''}...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            rows = module.run(**kwargs)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            sections.append(
                (name, "**failed** (see the run's output)", time.perf_counter() - start)
            )
            continue
        render: Callable[[Any], str] = getattr(module, "to_markdown", generic_markdown)
        sections.append((name, render(rows), time.perf_counter() - start))

    text = page(sections, quick=args.quick, missing=missing)
    # A quick run must not overwrite the real results page.
    output = args.output or (RESULTS.with_name("RESULTS-quick.md") if args.quick else RESULTS)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    print(f"wrote {output}", file=sys.stderr)
    if failed:
        print(f"error: benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
