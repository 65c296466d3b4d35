"""Presenting ``cloudzarr bench`` results: a rich table, JSON records and a PNG plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from cloudzarr.tools.bench import OPS, BenchRecord, format_size

#: The keys every JSON record has, in this order (extra keys follow).
JSON_KEYS = (
    "op",
    "size",
    "concurrency",
    "count",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "req_s",
    "mb_s",
)


def _num(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def results_table(records: Sequence[BenchRecord], *, title: str | None = None) -> Table:
    """A table with one row per cell: count, latency percentiles (ms), req/s and MB/s."""
    table = Table(title=title, header_style="bold")
    for name in ("op", "size", "conc"):
        table.add_column(name)
    for name in ("count", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s", "MB/s"):
        table.add_column(name, justify="right")
    for r in records:
        table.add_row(
            r.op,
            format_size(r.size),
            str(r.concurrency),
            str(r.count),
            str(r.errors) if r.errors else "",
            _num(r.p50_ms),
            _num(r.p90_ms),
            _num(r.p99_ms),
            _num(r.max_ms),
            _num(r.req_s, 1),
            _num(r.mb_s, 2) if r.op in ("put", "get", "range") else "",
        )
    return table


def write_json(records: Sequence[BenchRecord], path: str | Path) -> None:
    """Write the records as a JSON list (the :data:`JSON_KEYS` first; NaN written as null)."""
    rows = []
    for r in records:
        d = r.to_dict()
        rows.append(
            {**{k: d[k] for k in JSON_KEYS}, **{k: v for k, v in d.items() if k not in JSON_KEYS}}
        )
    Path(path).write_text(json.dumps(rows, indent=2) + "\n")


def write_plot(records: Sequence[BenchRecord], path: str | Path, *, title: str = "") -> None:
    """Draw p50/p90/p99 latency against object size, one panel per op, one colour per
    concurrency, to a PNG (needs the ``plot`` extra: matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed in tests
        raise RuntimeError('--plot needs matplotlib: pip install "cloudzarr[plot]"') from exc

    ops = [op for op in OPS if any(r.op == op for r in records)]
    concurrencies = sorted({r.concurrency for r in records})
    ncols = min(3, len(ops))
    nrows = math.ceil(len(ops) / ncols)
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
    for ax in list(axes.flat)[len(ops) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=min(len(labels), 3), fontsize="small"
    )
    fig.suptitle(title or "cloudzarr bench: request latency percentiles")
    fig.savefig(path, dpi=110)
    plt.close(fig)
