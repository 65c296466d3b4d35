"""Node summaries as ``Group.info`` / ``Array.info`` show them: one ``label : value`` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ArrayInfo", "GroupInfo", "format_table"]


def format_table(rows: Iterable[tuple[str, str]]) -> str:
    """``label : value`` lines, the labels padded to one width."""
    rows = list(rows)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}} : {v}" for k, v in rows)


@dataclass
class GroupInfo:
    """Facts about a group; the counts are filled by ``info_complete`` only."""

    name: str
    zarr_format: int
    read_only: bool
    store_type: str
    consolidated: bool
    attributes: int
    count_members: int | None = None
    count_arrays: int | None = None
    count_groups: int | None = None

    def __str__(self) -> str:
        rows = [
            ("Name", self.name),
            ("Type", "Group"),
            ("Zarr format", str(self.zarr_format)),
            ("Read-only", str(self.read_only)),
            ("Store type", self.store_type),
            ("Consolidated", str(self.consolidated)),
            ("No. attributes", str(self.attributes)),
        ]
        if self.count_members is not None:
            rows += [
                ("No. members", str(self.count_members)),
                ("No. arrays", str(self.count_arrays)),
                ("No. groups", str(self.count_groups)),
            ]
        return format_table(rows)

    def _repr_pretty_(self, p: object, cycle: bool) -> None:  # IPython
        p.text(str(self))  # type: ignore[attr-defined]


def _codec_text(codec: Any) -> str:
    """A codec as ``name(key=value, ...)``, whichever form the metadata holds it in."""
    name = getattr(codec, "name", None)
    config = getattr(codec, "configuration", None)
    if isinstance(name, str) and (config is None or isinstance(config, Mapping)):
        args = ", ".join(f"{k}={v!r}" for k, v in (config or {}).items())
        return f"{name}({args})"
    return repr(codec)  # numcodecs codecs have a readable repr of their own


def _codecs_text(codecs: Any) -> str:
    if codecs is None:
        return "None"
    if isinstance(codecs, tuple | list):
        return "(" + ", ".join(_codec_text(c) for c in codecs) + ")"
    return _codec_text(codecs)


# Rows of the table, in order: (key in the mapping, label, how to show the value).
_ARRAY_ROWS: tuple[tuple[str, str, Any], ...] = (
    ("name", "Name", str),
    ("type", "Type", str),
    ("zarr_format", "Zarr format", str),
    ("dtype", "Data type", str),
    ("fill_value", "Fill value", lambda v: repr(v.item() if hasattr(v, "item") else v)),
    ("shape", "Shape", str),
    ("chunks", "Chunk shape", str),
    ("shards", "Shard shape", str),
    ("order", "Order", str),
    ("read_only", "Read-only", str),
    ("store", "Store", str),
    ("filters", "Filters", _codecs_text),
    ("serializer", "Serializer", _codecs_text),
    ("compressors", "Compressors", _codecs_text),
    ("nchunks", "No. chunks", str),
    ("nbytes", "No. bytes", str),
    ("nchunks_initialized", "Chunks initialized", str),
)


class ArrayInfo(dict[str, Any]):
    """Facts about an array, as a mapping (``info["chunks"]``) that prints as a table.

    ``nchunks_initialized`` is present only in ``info_complete()``'s; ``shards`` is shown only
    for a sharded array.
    """

    def __str__(self) -> str:
        rows = [
            (label, show(self[key]))
            for key, label, show in _ARRAY_ROWS
            if key in self and not (key == "shards" and self[key] is None)
        ]
        return format_table(rows)

    def _repr_pretty_(self, p: object, cycle: bool) -> None:  # IPython
        p.text(str(self))  # type: ignore[attr-defined]
