"""``cloudzarr bench --compare A.json B.json``: per-cell ratios of two runs, with a hint of
whether each latency difference is more than noise.

Cells are matched on op, size, concurrency and workload. Ratios are B over A (``0.80x`` p50:
B is 20 % faster). The significance hint compares the two runs' 95 % confidence intervals of
the median (``p50_ci_ms``, distribution-free, from every sample): intervals that do not
overlap mark a real difference (``*``), overlapping ones say ``~`` (within noise); cells with
too few samples for an interval show ``?``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from cloudzarr.tools.bench import format_size


@dataclass(frozen=True)
class Comparison:
    """One matched cell."""

    op: str
    size: int
    concurrency: int
    workload: str
    p50_ratio: float
    p99_ratio: float
    ttfb_p50_ratio: float | None
    req_s_ratio: float
    significance: str


def _key(row: dict[str, Any]) -> tuple[str, int, int, str]:
    return (row["op"], int(row["size"]), int(row["concurrency"]), row.get("workload", "single"))


def _ratio(b: Any, a: Any) -> float:
    if a is None or b is None or not a or (isinstance(a, float) and math.isnan(a)):
        return math.nan
    return float(b) / float(a)


def _significance(a: dict[str, Any], b: dict[str, Any]) -> str:
    ca, cb = a.get("p50_ci_ms"), b.get("p50_ci_ms")
    if not ca or not cb:
        return "?"
    overlap = ca[0] <= cb[1] and cb[0] <= ca[1]
    return "~" if overlap else "*"


def compare_rows(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[Comparison]:
    """The cells present in both runs, in ``a``'s order."""
    b_by_key = {_key(row): row for row in b}
    found = []
    for row in a:
        other = b_by_key.get(_key(row))
        if other is None:
            continue
        ttfb = _ratio(other.get("ttfb_p50_ms"), row.get("ttfb_p50_ms"))
        found.append(
            Comparison(
                op=row["op"],
                size=int(row["size"]),
                concurrency=int(row["concurrency"]),
                workload=row.get("workload", "single"),
                p50_ratio=_ratio(other.get("p50_ms"), row.get("p50_ms")),
                p99_ratio=_ratio(other.get("p99_ms"), row.get("p99_ms")),
                ttfb_p50_ratio=None if math.isnan(ttfb) else ttfb,
                req_s_ratio=_ratio(other.get("req_s"), row.get("req_s")),
                significance=_significance(row, other),
            )
        )
    return found


def _x(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}x"


def comparison_table(found: Sequence[Comparison], *, title: str) -> Table:
    """The ratios as a table (B / A)."""
    table = Table(title=title, header_style="bold")
    for name in ("op", "size", "conc"):
        table.add_column(name)
    for name in ("p50 B/A", "sig", "p99 B/A", "ttfb p50 B/A", "req/s B/A"):
        table.add_column(name, justify="right")
    for c in found:
        table.add_row(
            c.op if c.workload == "single" else f"{c.op} (mix)",
            format_size(c.size),
            str(c.concurrency),
            _x(c.p50_ratio),
            c.significance,
            _x(c.p99_ratio),
            _x(c.ttfb_p50_ratio),
            _x(c.req_s_ratio),
        )
    return table
