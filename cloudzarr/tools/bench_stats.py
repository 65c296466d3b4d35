"""The bench's figures from its per-request samples: exact percentiles, per-second series,
saturation warnings, and latencies in readable units.

Every request is kept as a :class:`Sample` (a cell holds at most
:data:`~cloudzarr.tools.bench.MAX_REQUESTS_PER_CELL`, 40 bytes each), so percentiles are exact
order statistics of all samples (numpy's ``linear`` interpolation between the two nearest
ranks), not histogram bucket midpoints, and samples from several client processes merge
without loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The percentiles every record reports.
PERCENTILES = (50, 90, 99)
#: How the percentiles are computed (stated in the JSON's ``meta``).
PERCENTILE_METHOD = "exact: numpy.percentile over every sample, linear interpolation"


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: times in seconds from the start of its cell.

    ``ttfb`` is the time to the response's first byte (headers) for GETs on stores that stream
    (S3, Azure); None where the store returns whole values only.
    """

    op: str
    start: float
    end: float
    ttfb: float | None
    ok: bool
    nbytes: int
    client: int = 0

    @property
    def latency(self) -> float:
        """The full request time."""
        return self.end - self.start

    def to_row(self) -> list[Any]:
        """A compact list for ``--raw`` files."""
        return [self.op, self.start, self.end, self.ttfb, self.ok, self.nbytes, self.client]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Sample:
        """The inverse of :meth:`to_row`."""
        op, start, end, ttfb, ok, nbytes, client = row
        return cls(op, float(start), float(end), ttfb, bool(ok), int(nbytes), int(client))


def percentiles_ms(values_s: Sequence[float]) -> list[float]:
    """p50, p90, p99 of ``values_s`` in milliseconds (NaN when there are none)."""
    if not values_s:
        return [math.nan] * len(PERCENTILES)
    found = np.percentile(np.asarray(values_s, dtype=np.float64), PERCENTILES)
    return [float(v) * 1e3 for v in found]


@dataclass(frozen=True)
class CellStats:
    """The figures of one cell's samples."""

    count: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    ttfb_p50_ms: float | None
    ttfb_p90_ms: float | None
    ttfb_p99_ms: float | None
    nbytes: int
    series: dict[str, list[float]]
    p50_ci_ms: tuple[float, float] | None


def median_ci_ms(values_s: Sequence[float], z: float = 1.96) -> tuple[float, float] | None:
    """A distribution-free 95 % confidence interval of the median, in ms: the order
    statistics at ranks ``n/2 -+ z*sqrt(n)/2`` (the binomial normal approximation); None for
    fewer than 6 samples, where it would span everything."""
    n = len(values_s)
    if n < 6:
        return None
    ordered = sorted(values_s)
    half = z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half))
    return ordered[lo] * 1e3, ordered[hi] * 1e3


def cell_stats(samples: Sequence[Sample], wall_s: float) -> CellStats:
    """Percentiles of successful requests' latency and TTFB, and the per-second series."""
    good = [s for s in samples if s.ok]
    latencies = [s.latency for s in good]
    p50, p90, p99 = percentiles_ms(latencies)
    ttfbs = [s.ttfb for s in good if s.ttfb is not None]
    t50, t90, t99 = percentiles_ms(ttfbs) if ttfbs else (None, None, None)
    return CellStats(
        count=len(samples),
        errors=len(samples) - len(good),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        min_ms=min(latencies) * 1e3 if latencies else math.nan,
        max_ms=max(latencies) * 1e3 if latencies else math.nan,
        mean_ms=sum(latencies) / len(latencies) * 1e3 if latencies else math.nan,
        ttfb_p50_ms=t50,
        ttfb_p90_ms=t90,
        ttfb_p99_ms=t99,
        nbytes=sum(s.nbytes for s in good),
        series=per_second(samples, wall_s),
        p50_ci_ms=median_ci_ms(latencies),
    )


def per_second(samples: Sequence[Sample], wall_s: float) -> dict[str, list[float]]:
    """Requests, MB and p50 latency per second of the cell, by completion time.

    The last second is usually partial: its rates are divided by its real length, so a cell of
    2.5 s has three points and the third is not a dip.
    """
    seconds = max(1, math.ceil(wall_s)) if wall_s > 0 else 1
    counts = [0] * seconds
    payload = [0] * seconds
    latencies: list[list[float]] = [[] for _ in range(seconds)]
    for s in samples:
        i = min(int(s.end), seconds - 1)
        counts[i] += 1
        if s.ok:
            payload[i] += s.nbytes
            latencies[i].append(s.latency)
    lengths = [min(1.0, wall_s - i) if wall_s > i else 1.0 for i in range(seconds)]
    return {
        "t_s": [float(i) for i in range(seconds)],
        "req_s": [c / max(n, 1e-9) for c, n in zip(counts, lengths, strict=True)],
        "mb_s": [b / max(n, 1e-9) / 1e6 for b, n in zip(payload, lengths, strict=True)],
        "p50_ms": [percentiles_ms(v)[0] if v else math.nan for v in latencies],
    }


def saturation_warnings(rows: Sequence[Any]) -> list[str]:
    """Warnings where more concurrency raised latency but not throughput.

    For each op and size measured at several concurrencies, going from concurrency ``a`` to a
    higher ``b`` should raise req/s; when it rises by less than 15 % while p50 latency rises by
    more than 50 %, requests are queueing somewhere (the server, the network, the client's
    CPU): figures past ``a`` measure that queue, not the store.
    """
    warnings: list[str] = []
    by_cell: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        by_cell.setdefault((row.op, row.size), []).append(row)
    for (op, size), cells in by_cell.items():
        cells = sorted(cells, key=lambda r: r.concurrency)
        for a, b in itertools.pairwise(cells):
            if not (a.req_s > 0 and a.p50_ms > 0) or math.isnan(b.p50_ms):
                continue
            gain = b.req_s / a.req_s
            slower = b.p50_ms / a.p50_ms
            expected = b.concurrency / a.concurrency
            if gain < 1.15 and slower > 1.5 and expected > 1.5:
                warnings.append(
                    f"{op} {size} B: concurrency {a.concurrency} -> {b.concurrency} gave "
                    f"{gain:.2f}x the throughput and {slower:.1f}x the p50 latency: the target "
                    f"saturates at about {a.req_s:,.0f} req/s"
                )
                break
    return warnings


def format_ms(value: float | None) -> str:
    """A latency in milliseconds shown with units that keep its digits: ``"850 µs"``,
    ``"12.3 ms"``, ``"1.20 s"``; ``"-"`` when missing."""
    if value is None or math.isnan(value):
        return "-"
    if value < 1.0:
        return f"{value * 1e3:.0f} µs" if value >= 0.01 else f"{value * 1e3:.2f} µs"
    if value < 1000.0:
        return f"{value:.2f} ms" if value < 100 else f"{value:.1f} ms"
    return f"{value / 1e3:.2f} s"
