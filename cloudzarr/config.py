"""Process-wide settings, with environment overrides, read by the stores, arrays and codecs.

zarr-python users know ``zarr.config.set({"async.concurrency": 20})``; :data:`config` works the
same way. A value is looked up in this order: a ``config.set`` in force (innermost first), then
the key's environment variable, then the default below. Each key is read when it is used (a
store reads its timeouts when it is opened), so a change applies to what is opened after it.

=============================  ==============================  ========  =======================
key                            environment variable            default   meaning
=============================  ==============================  ========  =======================
``async.concurrency``          ``CLOUDZARR_CONCURRENCY``       None      requests in flight per
                                                                         store (None: the
                                                                         backend's default)
``storage.connect_timeout``    ``CLOUDZARR_CONNECT_TIMEOUT``   5.0       seconds to connect
``storage.request_timeout``    ``CLOUDZARR_REQUEST_TIMEOUT``   30.0      seconds per attempt,
                                                                         body included
``storage.operation_timeout``  ``CLOUDZARR_OPERATION_TIMEOUT`` 180.0     seconds per operation,
                                                                         retries included
``storage.retries``            ``CLOUDZARR_RETRIES``           10        retries of a transient
                                                                         failure
``storage.backoff_min``        ``CLOUDZARR_BACKOFF_MIN``       0.1       first backoff, seconds
``storage.backoff_max``        ``CLOUDZARR_BACKOFF_MAX``       15.0      longest backoff
``storage.hedge``              ``CLOUDZARR_HEDGE``             False     hedged cloud GETs
``codec.threads``              ``CLOUDZARR_CODEC_THREADS``     None      codec pool threads
                                                                         (None: one per core)
``array.write_empty_chunks``   ``CLOUDZARR_WRITE_EMPTY_CHUNKS`` False    store chunks equal to
                                                                         the fill value
``array.order``                ``CLOUDZARR_ARRAY_ORDER``       "C"       memory order of chunks
``array.huge_pages``           ``CLOUDZARR_HUGE_PAGES``        False     let numpy ask for
                                                                         transparent huge pages
                                                                         for read outputs
``metadata.max_document_bytes`` ``CLOUDZARR_MAX_DOCUMENT_BYTES`` 128 MiB  largest metadata
                                                                         document read
``metadata.max_depth``         ``CLOUDZARR_MAX_METADATA_DEPTH`` 128      deepest JSON nesting
                                                                         in a document
``metadata.max_chunk_bytes``   ``CLOUDZARR_MAX_CHUNK_BYTES``   4 GiB     largest chunk (or
                                                                         shard) an array may
                                                                         declare
``codec.max_shard_chunks``     ``CLOUDZARR_MAX_SHARD_CHUNKS``  2**22     inner chunks a shard
                                                                         may hold (its index:
                                                                         16 bytes each)
``metadata.cas_attempts``      ``CLOUDZARR_CAS_ATTEMPTS``      32        tries of one metadata
                                                                         compare-and-swap
=============================  ==============================  ========  =======================
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cloudzarr.errors import InvalidArgumentError

__all__ = ["Config", "Setting", "config"]


@dataclass(frozen=True)
class Setting:
    """One configuration key: its environment variable, default and type."""

    env: str
    default: Any
    kind: type
    optional: bool = False
    minimum: float | None = None


def _settings() -> dict[str, Setting]:
    return {
        "async.concurrency": Setting("CLOUDZARR_CONCURRENCY", None, int, True, 1),
        "storage.connect_timeout": Setting("CLOUDZARR_CONNECT_TIMEOUT", 5.0, float, minimum=0),
        "storage.request_timeout": Setting("CLOUDZARR_REQUEST_TIMEOUT", 30.0, float, minimum=0),
        "storage.operation_timeout": Setting(
            "CLOUDZARR_OPERATION_TIMEOUT", 180.0, float, minimum=0
        ),
        "storage.retries": Setting("CLOUDZARR_RETRIES", 10, int, minimum=0),
        "storage.backoff_min": Setting("CLOUDZARR_BACKOFF_MIN", 0.1, float, minimum=0),
        "storage.backoff_max": Setting("CLOUDZARR_BACKOFF_MAX", 15.0, float, minimum=0),
        "storage.hedge": Setting("CLOUDZARR_HEDGE", False, bool),
        "codec.threads": Setting("CLOUDZARR_CODEC_THREADS", None, int, True, 1),
        "array.write_empty_chunks": Setting("CLOUDZARR_WRITE_EMPTY_CHUNKS", False, bool),
        "array.order": Setting("CLOUDZARR_ARRAY_ORDER", "C", str),
        "array.huge_pages": Setting("CLOUDZARR_HUGE_PAGES", False, bool),
        "metadata.max_document_bytes": Setting(
            "CLOUDZARR_MAX_DOCUMENT_BYTES", 128 * 2**20, int, minimum=1
        ),
        "metadata.max_depth": Setting("CLOUDZARR_MAX_METADATA_DEPTH", 128, int, minimum=8),
        "metadata.max_chunk_bytes": Setting("CLOUDZARR_MAX_CHUNK_BYTES", 2**32, int, minimum=1),
        "codec.max_shard_chunks": Setting("CLOUDZARR_MAX_SHARD_CHUNKS", 2**22, int, minimum=1),
        "metadata.cas_attempts": Setting("CLOUDZARR_CAS_ATTEMPTS", 32, int, minimum=1),
    }


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _convert(key: str, setting: Setting, value: Any, source: str) -> Any:
    """``value`` as the setting's type, or InvalidArgumentError naming the key and source."""
    if value is None and setting.optional:
        return None
    try:
        if setting.kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in _TRUE | _FALSE:
                    raise ValueError(value)
                return lowered in _TRUE
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if setting.kind is int and isinstance(value, bool | float):
            raise ValueError(value)
        converted = setting.kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"config {key!r} from {source}: {value!r} is not a valid {setting.kind.__name__}"
        ) from None
    if setting.kind is str and key == "array.order" and converted not in ("C", "F"):
        raise InvalidArgumentError(f"config {key!r} from {source}: order must be 'C' or 'F'")
    if setting.minimum is not None and converted < setting.minimum:
        raise InvalidArgumentError(
            f"config {key!r} from {source}: {value!r} is below the minimum {setting.minimum}"
        )
    return converted


class Config:
    """Settings looked up per use: ``config.set`` overrides, then the environment, then defaults.

    Examples
    --------
    >>> from cloudzarr import config
    >>> with config.set({"storage.retries": 3}):
    ...     config.get("storage.retries")
    3
    """

    def __init__(self) -> None:
        self._settings = _settings()
        self._lock = threading.Lock()
        self._layers: list[dict[str, Any]] = []

    def keys(self) -> list[str]:
        """Every known key."""
        return sorted(self._settings)

    def _setting(self, key: str) -> Setting:
        setting = self._settings.get(key)
        if setting is None:
            import difflib

            close = difflib.get_close_matches(key, self._settings, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InvalidArgumentError(f"unknown config key {key!r}{hint}")
        return setting

    def get(self, key: str) -> Any:
        """The value of ``key`` in force now."""
        setting = self._setting(key)
        with self._lock:
            for layer in reversed(self._layers):
                if key in layer:
                    return layer[key]
        raw = os.environ.get(setting.env)
        if raw is not None and raw.strip() != "":
            return _convert(key, setting, raw, f"environment variable {setting.env}")
        return setting.default

    def set(self, values: Mapping[str, Any]) -> contextlib.AbstractContextManager[None]:
        """Override keys, checked now; undone when used as a ``with`` block, else kept.

        Parameters
        ----------
        values
            Keys and their new values.

        Raises
        ------
        InvalidArgumentError
            An unknown key (with a did-you-mean) or a value of the wrong type.
        """
        layer = {k: _convert(k, self._setting(k), v, "config.set") for k, v in values.items()}
        with self._lock:
            self._layers.append(layer)
        return self._undo(layer)

    @contextlib.contextmanager
    def _undo(self, layer: dict[str, Any]) -> Iterator[None]:
        try:
            yield
        finally:
            with self._lock:
                for i in range(len(self._layers) - 1, -1, -1):
                    if self._layers[i] is layer:
                        del self._layers[i]
                        break

    def reset(self) -> None:
        """Drop every ``config.set`` override."""
        with self._lock:
            self._layers.clear()

    def to_dict(self) -> dict[str, Any]:
        """Every key with the value in force now."""
        return {key: self.get(key) for key in self.keys()}

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"


#: The process-wide configuration.
config = Config()
