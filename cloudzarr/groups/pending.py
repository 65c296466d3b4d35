"""The pending protocol of consolidated metadata upkeep, one change at a time or in batches.

See :mod:`cloudzarr.groups.upkeep` for the protocol itself (mark, write, apply and unmark).
:func:`begin_change` and :func:`finish_change` are what writers call around their node writes;
under a :class:`Batch` they mark each holder once and record the change for the batch's commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import InvalidArgumentError
from cloudzarr.groups.upkeep import Progress, _below, new_token, update_holders
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata


async def mark_holders(store: Store, zarr_format: int, paths: Iterable[str], token: str) -> None:
    """Swap each holder at ``paths`` to carry ``token``: pending until unmarked."""
    await update_holders(store, zarr_format, paths, mark=token)


@dataclass
class Batch:
    """Changes to a hierarchy whose consolidated metadata is brought up to date once, at the
    end (see :meth:`cloudzarr.groups.AsyncGroup.batch`).

    Each holder is marked pending the first time a change below it meets it, and all recorded
    changes are applied (and the mark removed) in one swap per holder by :meth:`commit`.
    """

    store: Store
    zarr_format: int
    token: str = field(default_factory=new_token)
    marked: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)
    added: dict[str, NodeMetadata] = field(default_factory=dict)
    own_attributes: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    present: dict[str, NodeMetadata] = field(default_factory=dict)
    changes: int = 0

    async def mark(self, paths: Iterable[str]) -> None:
        """Mark the holders at ``paths`` not yet marked by this batch."""
        new = sorted(set(paths) - self.marked)
        if new:
            await mark_holders(self.store, self.zarr_format, new, self.token)
            self.marked.update(new)

    def record(
        self,
        *,
        removed: Iterable[str] = (),
        added: Mapping[str, NodeMetadata] | None = None,
        own_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        present: Mapping[str, NodeMetadata] | None = None,
    ) -> None:
        """Remember a change, in order: a removal drops what was added below it earlier."""
        self.changes += 1
        for path in removed:
            self.removed.append(path)
            for p in [p for p in self.added if p == path or _below(p, path)]:
                del self.added[p]
            for p in [p for p in self.own_attributes if p == path or _below(p, path)]:
                del self.own_attributes[p]
        self.added.update(added or {})
        self.own_attributes.update(own_attributes or {})
        for p, n in (present or {}).items():
            self.present.setdefault(p, n)

    async def commit(self, progress: Progress | None = None) -> None:
        """Apply every recorded change to every marked holder and unmark them (one swap each).

        ``progress(done, total)`` is called as holders are done.
        """
        await update_holders(
            self.store,
            self.zarr_format,
            self.marked,
            removed=self.removed,
            added=self.added,
            own_attributes=self.own_attributes,
            present=self.present,
            unmark=self.token,
            progress=progress,
        )


#: The batch in force per store, process-wide (sync callers reach the store from several
#: event loop calls, which a context variable would not follow).
_BATCHES: dict[int, Batch] = {}


def _store_id(store: Store) -> int:
    return id(store.with_read_only(False) if store.read_only else store)


def active_batch(store: Store) -> Batch | None:
    """The batch in force for ``store``, if any."""
    return _BATCHES.get(_store_id(store))


def start_batch(store: Store, zarr_format: int) -> Batch:
    """Put a batch in force for ``store``.

    Raises
    ------
    InvalidArgumentError
        A batch is already in force for this store (batches do not nest).
    """
    key = _store_id(store)
    if key in _BATCHES:
        raise InvalidArgumentError(f"a batch is already open on {store!r}; batches do not nest")
    batch = _BATCHES[key] = Batch(store, zarr_format)
    return batch


def end_batch(batch: Batch) -> None:
    """Take ``batch`` out of force."""
    _BATCHES.pop(_store_id(batch.store), None)


async def begin_change(store: Store, zarr_format: int, holders: Iterable[str]) -> str | None:
    """Step 1 of the protocol for one change: mark ``holders`` pending.

    Returns the token to pass to :func:`finish_change` (None under a batch, which marks each
    holder once and keeps its own token).
    """
    paths = sorted(set(holders))
    batch = active_batch(store)
    if batch is not None:
        await batch.mark(paths)
        return None
    if not paths:
        return None
    token = new_token()
    await mark_holders(store, zarr_format, paths, token)
    return token


async def finish_change(
    store: Store,
    zarr_format: int,
    holders: Iterable[str],
    token: str | None,
    *,
    removed: Iterable[str] = (),
    added: Mapping[str, NodeMetadata] | None = None,
    own_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    present: Mapping[str, NodeMetadata] | None = None,
    reread: Iterable[str] = (),
) -> None:
    """Step 3: apply the change to ``holders`` and remove ``token`` (under a batch: record the
    change for the batch's commit)."""
    batch = active_batch(store)
    if batch is not None:
        await batch.mark(holders)  # holders found late (a parent another writer created)
        batch.record(removed=removed, added=added, own_attributes=own_attributes, present=present)
        return
    await update_holders(
        store,
        zarr_format,
        holders,
        removed=removed,
        added=added,
        own_attributes=own_attributes,
        present=present,
        unmark=token,
        reread=reread,
    )
