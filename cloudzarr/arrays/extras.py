"""zarr-python's array conveniences: ``nbytes_stored()``, ``read_only``, the array ``config``
(``write_empty_chunks``, ``order``) and ``with_config`` (async and sync mixins)."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from cloudzarr.config import config as global_config
from cloudzarr.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray

__all__ = ["ArrayConfig", "AsyncArrayExtras"]


@dataclass(frozen=True, slots=True)
class ArrayConfig:
    """The runtime settings of one array (not stored in its metadata).

    Attributes
    ----------
    write_empty_chunks
        Store chunks that hold only the fill value (False: delete them instead, so they read
        back as fill without an object). Sharded arrays never store all-fill inner chunks.
    order
        The memory order of the arrays reads return (``"C"``); a Zarr v2 array's stored
        ``order`` decides its chunk layout.
    """

    write_empty_chunks: bool
    order: str

    @classmethod
    def from_config(cls, **overrides: Any) -> ArrayConfig:
        """The defaults from ``cloudzarr.config`` (``array.*``), with ``overrides``."""
        unknown = set(overrides) - {"write_empty_chunks", "order"}
        if unknown:
            raise InvalidArgumentError(
                f"array config: unknown key(s) {sorted(unknown)}; expected write_empty_chunks, "
                "order"
            )
        values = {
            "write_empty_chunks": bool(global_config.get("array.write_empty_chunks")),
            "order": str(global_config.get("array.order")),
            **overrides,
        }
        if values["order"] not in ("C", "F"):
            raise InvalidArgumentError(f"array config: order must be 'C' or 'F', got {values}")
        return cls(bool(values["write_empty_chunks"]), str(values["order"]))


class AsyncArrayExtras:
    """Mixed into :class:`AsyncArray`."""

    @property
    def read_only(self) -> bool:
        """Whether the array's store refuses writes."""
        array: AsyncArray = self  # type: ignore[assignment]
        return array.store.read_only

    @property
    def config(self) -> ArrayConfig:
        """This array's runtime settings (see :class:`ArrayConfig`)."""
        array: AsyncArray = self  # type: ignore[assignment]
        order = getattr(array, "_config_order", None) or str(global_config.get("array.order"))
        return ArrayConfig(array._chunk_io.write_empty_chunks, order)

    def with_config(self, config: ArrayConfig | dict[str, Any] | None = None, **kw: Any) -> Self:
        """A copy of this array (same store, path and metadata) with other settings.

        Parameters
        ----------
        config
            An :class:`ArrayConfig` or a dict of its fields.
        **kw
            Fields to set: ``write_empty_chunks``, ``order``.

        Returns
        -------
        AsyncArray
            The copy; this array is unchanged.
        """
        current = self.config
        given = dict(config) if isinstance(config, dict) else {}
        if isinstance(config, ArrayConfig):
            given = {"write_empty_chunks": config.write_empty_chunks, "order": config.order}
        merged = ArrayConfig.from_config(
            **{
                "write_empty_chunks": current.write_empty_chunks,
                "order": current.order,
                **given,
                **kw,
            }
        )
        new = copy.copy(self)
        array: AsyncArray = new  # type: ignore[assignment]
        array._chunk_io = copy.copy(array._chunk_io)
        array._chunk_io.write_empty_chunks = merged.write_empty_chunks
        array._config_order = merged.order  # type: ignore[attr-defined]
        return new

    async def nbytes_stored(self) -> int:
        """Bytes the array takes in its store: metadata documents and chunks (one listing
        plus one size request per object, under the store's limiter)."""
        array: AsyncArray = self  # type: ignore[assignment]
        prefix = array.path + "/" if array.path else ""
        keys = [k async for k in array.store.list_prefix(array.path) if k.startswith(prefix)]
        sizes = await asyncio.gather(*(array.store.getsize(k) for k in keys))
        return int(sum(sizes))
