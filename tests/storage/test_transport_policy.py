"""The request layer's settings: where timeouts and retries come from, and the backoff bounds."""

from __future__ import annotations

from typing import Any

import pytest

from cloudzarr.config import config
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.storage import open_store
from cloudzarr.storage.transport import Timeouts


def test_defaults_come_from_the_config() -> None:
    timeouts = Timeouts.resolve()
    assert (timeouts.connect, timeouts.request, timeouts.operation) == (5.0, 30.0, 180.0)
    assert (timeouts.retries, timeouts.backoff_min, timeouts.backoff_max) == (10, 0.1, 15.0)


def test_keywords_beat_the_config_which_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDZARR_REQUEST_TIMEOUT", "12")
    monkeypatch.setenv("CLOUDZARR_CONNECT_TIMEOUT", "3")
    assert Timeouts.resolve().request == 12.0
    with config.set({"storage.request_timeout": 7}):
        assert Timeouts.resolve().request == 7.0
        assert Timeouts.resolve(request=2).request == 2.0
    assert Timeouts.resolve().connect == 3.0


@pytest.mark.parametrize("bad", [0, -1.0])
def test_a_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(InvalidArgumentError, match="request_timeout"):
        Timeouts.resolve(request=bad)


def test_backoff_is_jittered_exponential_and_capped() -> None:
    timeouts = Timeouts(5, 30, 180, retries=10, backoff_min=0.1, backoff_max=15)
    for retry in range(12):
        ceiling = min(15.0, 0.1 * 2**retry)
        waits = [timeouts.backoff(retry) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered


def test_open_store_passes_the_timeouts_to_a_cloud_store(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    store: Any = open_store(
        f"s3://{s3_bucket}/p",
        storage_options=s3_storage_options,
        connect_timeout=1.5,
        request_timeout=4,
    )
    assert (store.timeouts.connect, store.timeouts.request) == (1.5, 4.0)
    # Part of the configuration: equality and pickling keep them.
    import pickle

    assert pickle.loads(pickle.dumps(store)).timeouts == store.timeouts
