"""cloudzarr.config: overrides, environment variables, defaults, typed errors."""

from __future__ import annotations

import pytest

from cloudzarr import config
from cloudzarr.errors import InvalidArgumentError


def test_default_then_environment_then_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.get("storage.retries") == 10
    monkeypatch.setenv("CLOUDZARR_RETRIES", "4")
    assert config.get("storage.retries") == 4
    with config.set({"storage.retries": 2}):
        assert config.get("storage.retries") == 2
        with config.set({"storage.retries": 1}):
            assert config.get("storage.retries") == 1
        assert config.get("storage.retries") == 2
    assert config.get("storage.retries") == 4


def test_bool_and_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.get("array.write_empty_chunks") is False
    monkeypatch.setenv("CLOUDZARR_WRITE_EMPTY_CHUNKS", "yes")
    assert config.get("array.write_empty_chunks") is True
    assert config.get("codec.threads") is None or config.get("codec.threads") >= 1


def test_unknown_key_has_did_you_mean() -> None:
    with pytest.raises(InvalidArgumentError, match=r"did you mean 'storage\.retries'"):
        config.get("storage.retry")


@pytest.mark.parametrize(
    ("key", "value"),
    [("storage.retries", "many"), ("storage.retries", -1), ("array.order", "X"),
     ("array.write_empty_chunks", "maybe"), ("storage.request_timeout", 1.5j)],
)  # fmt: skip
def test_bad_values_are_typed(key: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=key.replace(".", r"\.")):
        config.set({key: value})


def test_bad_environment_value_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDZARR_REQUEST_TIMEOUT", "soon")
    with pytest.raises(InvalidArgumentError, match="CLOUDZARR_REQUEST_TIMEOUT"):
        config.get("storage.request_timeout")
