"""A mutable mapping of user attributes whose every change is persisted at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cloudzarr.metadata.frozen import thaw

__all__ = ["Attributes"]


class Attributes(dict[str, Any]):
    """User attributes of a node; ``attrs[k] = v``, ``del attrs[k]`` and ``update`` persist.

    Parameters
    ----------
    current
        The node's attributes now.
    write
        Called with the complete new attributes after every change; it writes the node's
        metadata document and returns the attributes as stored.

    Notes
    -----
    A plain ``dict`` subclass, so ``json.dumps(attrs)``, ``dict(attrs)`` and equality with dicts
    work as users expect. Values read are plain JSON values (lists, dicts), copies of what the
    metadata holds: mutating a nested value in place does not persist; assign it back instead.
    """

    def __init__(
        self, current: Mapping[str, Any], write: Callable[[dict[str, Any]], Mapping[str, Any]]
    ) -> None:
        super().__init__(thaw(current))
        self._write = write

    def _commit(self, new: dict[str, Any]) -> None:
        stored = self._write(new)
        super().clear()
        super().update(thaw(stored))

    def __setitem__(self, key: str, value: Any) -> None:
        new = dict(self)
        new[key] = value
        self._commit(new)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        new = dict(self)
        del new[key]
        self._commit(new)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set many attributes in one metadata write."""
        new = dict(self)
        new.update(*args, **kwargs)
        self._commit(new)

    def put(self, attributes: Mapping[str, Any]) -> None:
        """Replace all attributes in one metadata write."""
        self._commit(dict(attributes))

    def clear(self) -> None:
        """Remove every attribute in one metadata write."""
        self._commit({})

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
