"""A mutable mapping of user attributes whose every change is persisted at once.

Each change is sent as a *change* (set these keys, delete those, replace all), applied by
compare-and-swap to the attributes as stored now (:mod:`cloudzarr.metadata.nodes_io`), so two
processes setting different keys of one node both keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cloudzarr.metadata import nodes_io
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.nodes_io import AttributesChange

__all__ = ["Attributes"]


class Attributes(dict[str, Any]):
    """User attributes of a node; ``attrs[k] = v``, ``del attrs[k]`` and ``update`` persist.

    Parameters
    ----------
    current
        The node's attributes now.
    write
        Called with the change (a function: stored attributes -> new attributes) after every
        edit; it applies it to the stored document and returns the attributes as written, which
        this mapping then shows (other writers' keys included).

    Notes
    -----
    A plain ``dict`` subclass, so ``json.dumps(attrs)``, ``dict(attrs)`` and equality with dicts
    work as users expect. Values read are plain JSON values (lists, dicts), copies of what the
    metadata holds: mutating a nested value in place does not persist; assign it back instead.
    """

    def __init__(
        self, current: Mapping[str, Any], write: Callable[[AttributesChange], Mapping[str, Any]]
    ) -> None:
        super().__init__(thaw(current))
        self._write = write

    def _commit(self, change: AttributesChange) -> None:
        stored = self._write(change)
        super().clear()
        super().update(thaw(stored))

    def __setitem__(self, key: str, value: Any) -> None:
        self._commit(nodes_io.merge({key: value}))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._commit(nodes_io.remove(key))

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set many attributes in one metadata write."""
        self._commit(nodes_io.merge(dict(*args, **kwargs)))

    def put(self, attributes: Mapping[str, Any]) -> None:
        """Replace all attributes in one metadata write."""
        self._commit(nodes_io.replace_all(attributes))

    def clear(self) -> None:
        """Remove every attribute in one metadata write."""
        self._commit(nodes_io.replace_all({}))

    def pop(self, key: str, *default: Any) -> Any:
        """Remove ``key`` and return its value (one metadata write)."""
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key]
        del self[key]
        return value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return ``attrs[key]``, setting it to ``default`` first if missing."""
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last attribute (one metadata write)."""
        if not self:
            raise KeyError("popitem(): attributes are empty")
        key = next(reversed(list(self)))
        return key, self.pop(key)

    def __ior__(self, other: Any) -> Attributes:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __iter__(self) -> Iterator[str]:
        return super().__iter__()

    def asdict(self) -> dict[str, Any]:
        """A plain dict copy."""
        return thaw(dict(self))
