"""The latency histogram: quantiles within the stated relative error, bounded size, reset."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloudzarr.storage import LatencyHistogram


@pytest.mark.parametrize("accuracy", [0.01, 0.05])
def test_quantiles_within_relative_error_of_numpy(accuracy: float) -> None:
    rng = np.random.default_rng(7)
    samples = rng.lognormal(mean=-4.0, sigma=1.0, size=5_000)
    h = LatencyHistogram(accuracy)
    h.extend(samples.tolist())
    for q in (0.01, 0.1, 0.5, 0.9, 0.99, 0.999):
        expected = float(np.percentile(samples, q * 100, method="lower"))
        got = h.quantile(q)
        assert abs(got - expected) <= accuracy * expected * (1 + 1e-9), (q, got, expected)
    assert h.quantile(1.0) == samples.max()
    assert h.quantile(0.0) == samples.min()
    assert h.count == samples.size
    assert math.isclose(h.mean, float(samples.mean()), rel_tol=1e-9)


def test_memory_stays_bounded_with_many_samples() -> None:
    rng = np.random.default_rng(1)
    # 1e5 samples spread over six orders of magnitude (1 us .. 1 s).
    samples = 10.0 ** rng.uniform(-6, 0, size=100_000)
    h = LatencyHistogram(0.01)
    h.extend(samples.tolist())
    assert h.count == 100_000
    # log(1e6) / log(1.0202) is about 691 buckets, whatever the sample count.
    assert h.bucket_count <= 700
    expected = float(np.percentile(samples, 50, method="lower"))
    assert abs(h.quantile(0.5) - expected) <= 0.01 * expected


def test_bucket_cap_collapses_lowest_buckets_only() -> None:
    h = LatencyHistogram(0.01, max_buckets=10)
    h.extend([1.01**i for i in range(1, 200)])
    assert h.bucket_count <= 10
    # The top of the distribution keeps its accuracy.
    assert abs(h.quantile(0.999) - 1.01**198) <= 0.01 * 1.01**198 * 1.01


def test_reset_and_empty() -> None:
    h = LatencyHistogram()
    assert math.isnan(h.quantile(0.5))
    h.extend([0.1, 0.2, 0.0])
    assert h.quantile(0.0) == 0.0
    h.reset()
    assert h.count == 0
    assert h.bucket_count == 0
    assert math.isnan(h.quantile(0.99))


def test_merge_adds_counts() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    a.extend([0.001] * 10)
    b.extend([1.0] * 10)
    a.merge(b)
    assert a.count == 20
    assert a.max == 1.0
    assert abs(a.quantile(0.9) - 1.0) <= 0.01


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_rejects_negative_and_nan(bad: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        LatencyHistogram().add(bad)


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="relative_accuracy"):
        LatencyHistogram(1.5)
    with pytest.raises(ValueError, match="quantile"):
        LatencyHistogram().quantile(2)
