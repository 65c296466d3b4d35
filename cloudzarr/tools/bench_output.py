"""Presenting ``cloudzarr bench`` results: a rich table, a JSON document (``meta`` + ``rows``),
per-request ``--raw`` records and a plot of latency percentiles and throughput over time."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from cloudzarr.tools.bench import OPS, BenchRecord, format_size
from cloudzarr.tools.bench_stats import PERCENTILE_METHOD, format_ms

#: The keys every JSON row has, in this order (extra keys follow).
JSON_KEYS = (
    "op",
    "size",
    "concurrency",
    "count",
    "p50_ms",
    "ttfb_p50_ms",
    "p90_ms",
    "ttfb_p90_ms",
    "p99_ms",
    "ttfb_p99_ms",
    "max_ms",
    "req_s",
    "mb_s",
)
#: The version of the JSON document's layout.
SCHEMA = "cloudzarr-bench/2"


def _num(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def results_table(records: Sequence[BenchRecord], *, title: str | None = None) -> Table:
    """One row per cell: count, latency percentiles (units chosen per value), TTFB p50 for
    GETs, req/s and MB/s."""
    table = Table(title=title, header_style="bold")
    for name in ("op", "size", "conc"):
        table.add_column(name)
    for name in ("count", "errors", "p50", "ttfb p50", "p90", "p99", "max", "req/s", "MB/s"):
        table.add_column(name, justify="right")
    for r in records:
        table.add_row(
            r.op if r.workload == "single" else ("mix (all)" if r.op == "mix" else f"{r.op} (mix)"),
            format_size(r.size),
            str(r.concurrency),
            str(r.count),
            str(r.errors) if r.errors else "",
            format_ms(r.p50_ms),
            format_ms(r.ttfb_p50_ms),
            format_ms(r.p90_ms),
            format_ms(r.p99_ms),
            format_ms(r.max_ms),
            _num(r.req_s, 1),
            _num(r.mb_s, 2) if r.op in ("put", "get", "range", "mix") else "",
        )
    return table


def redact_url(url: str) -> str:
    """``url`` without user info or query (``s3://key:secret@b/p?x=1`` -> ``s3://b/p``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rsplit('@', 1)[-1]}{slash}{path}"


#: Option values never written to the JSON (only their presence).
_SECRET_WORDS = ("secret", "key", "token", "password", "credential", "connection_string", "sas")


def run_meta(
    url: str, options: Mapping[str, Any], storage_options: Mapping[str, Any], started: float
) -> dict[str, Any]:
    """The ``meta`` object: target (no secrets), start time, versions, host, every option."""
    import importlib.metadata

    versions: dict[str, str] = {"python": platform.python_version()}
    for package in ("cloudzarr", "fsspec", "s3fs", "gcsfs", "adlfs", "numpy", "moto"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    shown_options = {
        k: ("<redacted>" if any(w in k.lower() for w in _SECRET_WORDS) else v)
        for k, v in storage_options.items()
    }
    return {
        "schema": SCHEMA,
        "url": redact_url(url),
        "storage_options": shown_options,
        "started": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "options": dict(options),
        "percentiles": PERCENTILE_METHOD,
    }


def json_rows(records: Sequence[BenchRecord]) -> list[dict[str, Any]]:
    """Rows with the :data:`JSON_KEYS` first, then the rest (``series`` included)."""
    rows = []
    for r in records:
        d = r.to_dict()
        rows.append(
            {**{k: d[k] for k in JSON_KEYS}, **{k: v for k, v in d.items() if k not in JSON_KEYS}}
        )
    return rows


def write_json(
    records: Sequence[BenchRecord],
    path: str | Path,
    *,
    meta: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
) -> None:
    """Write ``{"meta": ..., "rows": [...], "warnings": [...]}`` (NaN written as null)."""
    doc = {"meta": dict(meta or {}), "rows": json_rows(records), "warnings": list(warnings)}
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def read_rows(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(meta, rows)`` of a bench JSON file (also the older bare list of rows)."""
    doc = json.loads(Path(path).read_text())
    if isinstance(doc, list):
        return {}, doc
    return doc.get("meta", {}), doc.get("rows", [])


def write_raw(records: Sequence[BenchRecord], path: str | Path) -> int:
    """Write every request as one JSON line: op, size, concurrency, workload, client, start
    and end (s, from the cell's start), ttfb (s or null), ok, bytes. Returns the line count."""
    lines = 0
    with Path(path).open("w") as out:
        for r in records:
            if r.workload == "mix" and r.op != "mix":
                continue  # the mix total holds every sample once
            for s in r.samples:
                row = {
                    "op": s.op,
                    "size": r.size,
                    "concurrency": r.concurrency,
                    "workload": r.workload,
                    "client": s.client,
                    "start_s": round(s.start, 7),
                    "end_s": round(s.end, 7),
                    "ttfb_s": None if s.ttfb is None else round(s.ttfb, 7),
                    "ok": s.ok,
                    "bytes": s.nbytes,
                }
                out.write(json.dumps(row) + "\n")
                lines += 1
    return lines


def write_plot(records: Sequence[BenchRecord], path: str | Path, *, title: str = "") -> None:
    """Draw p50/p90/p99 latency against object size, one panel per op, one colour per
    concurrency, and a last panel of throughput per second over the run, to an image (needs
    the ``plot`` extra: matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed in tests
        raise RuntimeError('--plot needs matplotlib: pip install "cloudzarr[plot]"') from exc

    ops = [op for op in (*OPS, "mix") if any(r.op == op for r in records)]
    concurrencies = sorted({r.concurrency for r in records})
    ncols = min(3, len(ops) + 1)
    nrows = math.ceil((len(ops) + 1) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False, constrained_layout=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = {
        "p50_ms": ("-", "o", "p50"),
        "p90_ms": ("--", "s", "p90"),
        "p99_ms": (":", "^", "p99"),
    }
    for ax, op in zip(axes.flat, ops, strict=False):
        for ci, conc in enumerate(concurrencies):
            rows = sorted(
                (r for r in records if r.op == op and r.concurrency == conc), key=lambda r: r.size
            )
            if not rows:
                continue
            sizes = [max(r.size, 1) for r in rows]
            for key, (line, marker, label) in styles.items():
                values = [getattr(r, key) for r in rows]
                ax.plot(
                    sizes,
                    values,
                    linestyle=line,
                    marker=marker,
                    color=colors[ci % len(colors)],
                    label=f"{label}, concurrency {conc}",
                )
        ax.set_title(op)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes_all = sorted({max(r.size, 1) for r in records})
        ax.set_xticks(sizes_all, [format_size(s) for s in sizes_all])
        ax.set_xlabel("object size")
        ax.set_ylabel("latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        # Ticks at 1-2-5 steps in plain numbers (0.5, 2, 50) read faster than 5x10^-1.
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: ""))
    _plot_series(list(axes.flat)[len(ops)], records)
    for ax in list(axes.flat)[len(ops) + 1 :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=min(len(labels), 3), fontsize="small"
    )
    fig.suptitle(title or "cloudzarr bench: request latency percentiles")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_series(ax: Any, records: Sequence[BenchRecord]) -> None:
    """Requests per second over the run, cell after cell (a dip inside a cell shows a stall)."""
    offset = 0.0
    for r in records:
        if r.workload == "mix" and r.op != "mix":
            continue
        t = [offset + x + 0.5 for x in r.series.get("t_s", [])]
        ax.plot(t, r.series.get("req_s", []), marker=".", linewidth=1)
        offset += max(r.wall_s, 1.0)
    ax.set_title("throughput over the run (each cell in turn)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests / s")
    ax.grid(True, alpha=0.3)
