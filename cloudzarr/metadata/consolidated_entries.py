"""The raw entries of a consolidated metadata document: one flat index of node documents,
shared by every view into it, parsed into metadata objects only when a node is first used
(with the parsers :mod:`cloudzarr.metadata.node` hands in), and the checks and conversions
between the nested v3 form, the flat form and the v2 ``.zmetadata`` form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import ConsolidatedMetadataError
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.paths import join_path

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata

__all__ = ["V2Entry", "set_entry_parsers"]


@dataclass(frozen=True, slots=True)
class V2Entry:
    """The raw format 2 documents of one node in ``.zmetadata`` (None where absent)."""

    zarray: Mapping[str, Any] | None = None
    zgroup: Mapping[str, Any] | None = None
    zattrs: Mapping[str, Any] | None = None


# A raw entry: a format 3 ``zarr.json`` dict, the format 2 documents, or an already-built object.
_Raw = Any


class _Index:
    """The flat entries of one consolidated document, shared by every view into it."""

    __slots__ = ("_children", "_parsed", "_sorted", "entries", "kinds", "zarr_format")

    def __init__(self, entries: dict[str, _Raw], kinds: dict[str, str], zarr_format: int) -> None:
        self.entries = entries
        self.kinds = kinds
        self.zarr_format = zarr_format
        self._parsed: dict[str, NodeMetadata] = {}
        self._sorted: list[str] | None = None
        self._children: dict[str, list[str]] | None = None

    @property
    def sorted_paths(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        return self._sorted

    @property
    def children(self) -> dict[str, list[str]]:
        if self._children is None:
            children: dict[str, list[str]] = {}
            for path in self.sorted_paths:
                parent, _, name = path.rpartition("/")
                children.setdefault(parent, []).append(name)
            self._children = children
        return self._children

    def raw_node(self, full: str) -> NodeMetadata:
        """The node at ``full`` without consolidated metadata attached (cached)."""
        node = self._parsed.get(full)
        if node is None:
            node = _parse_entry(self.entries[full], full, self.zarr_format)
            self._parsed[full] = node
        return node


#: The node parsers (``parse_v2``, ``parse_v3`` of :mod:`cloudzarr.metadata.node`), handed in
#: by that module when it is imported; it imports this one, so this one cannot import it.
_PARSERS: list[Any] = []


def set_entry_parsers(parse_v2: Any, parse_v3: Any) -> None:
    """Give consolidated metadata the functions that parse one node's documents."""
    _PARSERS[:] = [parse_v2, parse_v3]


def _parse_entry(raw: _Raw, path: str, zarr_format: int) -> NodeMetadata:
    parse_v2, parse_v3 = _PARSERS
    if isinstance(raw, V2Entry):
        return parse_v2(raw.zarray, raw.zgroup, raw.zattrs, path)
    if isinstance(raw, Mapping):
        if raw.get("node_type") == "group" and raw.get("consolidated_metadata") is not None:
            # Nested entries were flattened on load; the view attaches the subtree later.
            raw = {k: v for k, v in raw.items() if k != "consolidated_metadata"}
        return parse_v3(dict(raw), path)
    if getattr(raw, "node_type", None) in ("array", "group"):
        result: NodeMetadata = raw
        if result.node_type == "group" and result.consolidated_metadata is not None:
            result = result.with_consolidated(None)
        return result
    raise ConsolidatedMetadataError(f"consolidated metadata entry {path!r} is not a node document")


def _raw_kind(raw: _Raw) -> str:
    if isinstance(raw, V2Entry):
        return "array" if raw.zarray is not None else "group"
    if isinstance(raw, Mapping):
        return str(raw.get("node_type"))
    return str(raw.node_type)


def _drop_below(entries: dict[str, _Raw], path: str) -> None:
    below = path + "/"
    for p in [p for p in entries if p.startswith(below)]:
        del entries[p]


def _flatten_v3(
    metadata: Mapping[str, Any],
    prefix: str,
    entries: dict[str, _Raw],
    kinds: dict[str, str],
    where: str,
) -> None:
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for rel, doc in metadata.items():
        path = join_path(prefix, rel)
        if not isinstance(rel, str) or not rel or rel.startswith("/") or "//" in rel:
            raise ConsolidatedMetadataError(f"{where}: invalid node path {rel!r}")
        if not isinstance(doc, Mapping):
            raise ConsolidatedMetadataError(f"{where}: entry {path!r} must be a JSON object")
        node_type = doc.get("node_type")
        if node_type not in ("array", "group"):
            raise ConsolidatedMetadataError(
                f"{where}: entry {path!r} has node_type {node_type!r} (expected array or group)"
            )
        if doc.get("zarr_format") != 3:
            raise ConsolidatedMetadataError(
                f"{where}: entry {path!r} has zarr_format {doc.get('zarr_format')!r}, expected 3"
            )
        entries[path] = doc
        kinds[path] = node_type
        if node_type == "group":
            inner = doc.get("consolidated_metadata")
            if isinstance(inner, Mapping):
                inner_meta = inner.get("metadata")
                if isinstance(inner_meta, Mapping) and inner_meta:
                    nested.append((path, inner_meta))
    for path, inner_meta in nested:
        sub_entries: dict[str, _Raw] = {}
        sub_kinds: dict[str, str] = {}
        _flatten_v3(inner_meta, path, sub_entries, sub_kinds, where)
        for p, doc in sub_entries.items():
            if p not in entries:  # flat entries win over nested ones
                entries[p] = doc
                kinds[p] = sub_kinds[p]


def _check_tree(kinds: Mapping[str, str], where: str) -> None:
    for path in kinds:
        parent, sep, _ = path.rpartition("/")
        if not sep:
            continue
        kind = kinds.get(parent)
        if kind is None:
            raise ConsolidatedMetadataError(
                f"{where}: node {path!r} is listed but its parent group {parent!r} is not"
            )
        if kind != "group":
            raise ConsolidatedMetadataError(
                f"{where}: node {path!r} is listed below {parent!r}, which is an array"
            )


def _entry_v3_dict(raw: _Raw, full: str, index: _Index) -> dict[str, Any]:
    doc = thaw(raw) if isinstance(raw, Mapping) else index.raw_node(full).to_dict()
    if doc.get("node_type") == "group":
        doc["consolidated_metadata"] = {"kind": "inline", "must_understand": False, "metadata": {}}
    return doc


def _v2_dicts(node: NodeMetadata) -> dict[str, Any]:
    # The documents exactly as the node writes them; zarr-python also lists empty .zattrs.
    docs: dict[str, Any] = {name: json.loads(data) for name, data in node.to_documents().items()}
    docs.setdefault(".zattrs", {})
    return docs
