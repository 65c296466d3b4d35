"""Deep-frozen JSON values, so metadata dataclasses are immutable all the way down.

``deep_freeze`` turns dicts into :class:`FrozenDict` and lists into tuples (recursively);
``thaw`` turns them back into plain ``dict`` / ``list`` for JSON encoding or for handing to users.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class FrozenDict(Mapping[str, Any]):
    """An immutable, hashable mapping (values are deep-frozen by :func:`deep_freeze`)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset((k, _hashable(v)) for k, v in self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (self._data,))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_SCALARS = (str, int, float, bool, type(None))


def deep_freeze(value: Any) -> Any:
    """Return ``value`` with every dict made a :class:`FrozenDict` and every list a tuple."""
    # Exact-type fast paths first: ABC isinstance checks dominate parsing big documents.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return FrozenDict({str(k): deep_freeze(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        return tuple(deep_freeze(v) for v in value)
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({str(k): deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(deep_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Return plain ``dict`` / ``list`` copies of a (possibly) deep-frozen value."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
