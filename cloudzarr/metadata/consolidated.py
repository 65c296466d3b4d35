"""Consolidated metadata: the metadata of a whole subtree in one document.

Format 3 keeps it inline in a group's ``zarr.json``::

    "consolidated_metadata": {"kind": "inline", "must_understand": false,
                              "metadata": {"a": {...}, "a/b": {...}, "a/b/arr": {...}}}

Format 2 keeps it in ``.zmetadata``::

    {"metadata": {".zgroup": {...}, ".zattrs": {...}, "a/.zgroup": {...}, "a/arr/.zarray": {...},
                  "a/arr/.zattrs": {...}}, "zarr_consolidated_format": 1}

Internally the entries are **flat**: one mapping from a path relative to the consolidating group
to that node's raw document. A 900 KB document therefore costs one ``json.loads`` plus one pass
over its keys (checking that every path's parent is a listed group); each node's metadata object
is built only when something asks for it, and then cached. zarr-python instead builds every
node object and nests them eagerly (its ``_flat_to_nested``), which is where its 0.28 s go.

The nested view zarr-python exposes is still available: :attr:`ConsolidatedMetadata.metadata`
maps the immediate children to their metadata, and a child group's metadata carries a
:class:`ConsolidatedMetadata` of its own subtree -- a view sharing the same flat index, so
nesting costs nothing. :attr:`ConsolidatedMetadata.flattened_metadata` is the flat mapping.

Nested inline documents (a child group entry whose own ``consolidated_metadata`` lists its
children, as some writers produce) are flattened on load; flat entries win over nested ones.

A document whose ``metadata`` lists a node whose parent is not listed, or is an array, is refused
with :class:`~cloudzarr.errors.ConsolidatedMetadataError` naming the path -- never a crash deep
inside. A malformed entry (a bad array document, say) is reported when that node is first used,
naming the node's path; :meth:`ConsolidatedMetadata.validate` parses every entry at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cloudzarr.errors import ConsolidatedMetadataError, MetadataError
from cloudzarr.metadata.consolidated_entries import (
    V2Entry,
    _check_tree,
    _drop_below,
    _entry_v3_dict,
    _flatten_v3,
    _Index,
    _Raw,
    _raw_kind,
    _v2_dicts,
)
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.paths import join_path
from cloudzarr.metadata.unreadable import UnreadableNode

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata

__all__ = ["ConsolidatedMetadata", "V2Entry"]


@dataclass(frozen=True, eq=False)
class ConsolidatedMetadata:
    """The metadata of every node below a group, keyed by path relative to that group.

    Build one with :meth:`from_dict` (format 3 inline), :meth:`from_zmetadata` (format 2) or
    :meth:`from_nodes` (metadata objects); serialise with :meth:`to_dict` and
    :meth:`to_zmetadata`.
    """

    _index: _Index = field(repr=False)
    _prefix: str = ""
    kind: Literal["inline"] = field(default="inline", init=False)
    must_understand: Literal[False] = field(default=False, init=False)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, path: str | None = None) -> ConsolidatedMetadata:
        """Read the format 3 inline form (``{"kind": "inline", "metadata": {...}}``).

        Raises
        ------
        ConsolidatedMetadataError
            The document is not of the inline form, an entry is not an object with a valid
            ``node_type``, or a path's parent is missing or an array.
        """
        where = f"consolidated metadata of group {path or '/'!r}"
        if not isinstance(data, Mapping):
            raise ConsolidatedMetadataError(f"{where} must be a JSON object")
        if data.get("kind") != "inline":
            raise ConsolidatedMetadataError(
                f"{where}: field 'kind' must be 'inline', got {data.get('kind')!r}"
            )
        if data.get("must_understand", False) is not False:
            raise ConsolidatedMetadataError(f"{where}: field 'must_understand' must be false")
        metadata = data.get("metadata")
        if not isinstance(metadata, Mapping):
            raise ConsolidatedMetadataError(f"{where}: field 'metadata' must be a JSON object")
        entries: dict[str, _Raw] = {}
        kinds: dict[str, str] = {}
        _flatten_v3(metadata, "", entries, kinds, where)
        _check_tree(kinds, where)
        return cls(_Index(entries, kinds, 3))

    @classmethod
    def from_zmetadata(cls, data: Any, *, key: str = ".zmetadata") -> ConsolidatedMetadata:
        """Read a format 2 ``.zmetadata`` document (the root's own ``.zgroup``/``.zattrs`` are
        skipped: they describe the group itself, not its members).

        Raises
        ------
        ConsolidatedMetadataError
            The document's form is wrong, a key does not end in ``.zarray``, ``.zgroup`` or
            ``.zattrs``, or a node's parent is missing or an array.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("metadata"), Mapping):
            raise ConsolidatedMetadataError(
                f"{key}: must be a JSON object with a 'metadata' object"
            )
        fmt = data.get("zarr_consolidated_format")
        if fmt != 1:
            raise ConsolidatedMetadataError(
                f"{key}: 'zarr_consolidated_format' must be 1, got {fmt!r}"
            )
        parts: dict[str, dict[str, Any]] = {}
        for name, doc in data["metadata"].items():
            node_path, sep, kind = name.rpartition("/")
            if not sep:
                node_path, kind = "", name
            if kind not in (".zarray", ".zgroup", ".zattrs"):
                raise ConsolidatedMetadataError(
                    f"{key}: entry {name!r} is not a .zarray, .zgroup or .zattrs document"
                )
            if not isinstance(doc, Mapping):
                raise ConsolidatedMetadataError(f"{key}: entry {name!r} must be a JSON object")
            if node_path == "":
                continue
            parts.setdefault(node_path, {})[kind[1:]] = doc
        entries: dict[str, _Raw] = {}
        kinds: dict[str, str] = {}
        for node_path, docs in parts.items():
            if "zarray" in docs:
                kinds[node_path] = "array"
            elif "zgroup" in docs:
                kinds[node_path] = "group"
            else:
                # Attributes alone do not make a node; zarr-python skips them too.
                continue
            entries[node_path] = V2Entry(docs.get("zarray"), docs.get("zgroup"), docs.get("zattrs"))
        _check_tree(kinds, key)
        return cls(_Index(entries, kinds, 2))

    @classmethod
    def from_nodes(
        cls, nodes: Mapping[str, NodeMetadata], *, zarr_format: int | None = None
    ) -> ConsolidatedMetadata:
        """Build from metadata objects keyed by relative path (a flat mapping).

        Raises
        ------
        ConsolidatedMetadataError
            If the nodes mix formats, or a path's parent is missing or an array.
        """
        formats = {n.zarr_format for n in nodes.values()}
        if len(formats) > 1:
            raise ConsolidatedMetadataError("consolidated metadata cannot mix Zarr formats 2 and 3")
        fmt = formats.pop() if formats else (zarr_format or 3)
        entries: dict[str, _Raw] = {}
        kinds: dict[str, str] = {}
        for path, node in nodes.items():
            entries[path] = node
            kinds[path] = node.node_type
        _check_tree(kinds, "consolidated metadata")
        return cls(_Index(entries, kinds, fmt))

    # --- reading -----------------------------------------------------------------------------

    @property
    def zarr_format(self) -> int:
        """The format of every node listed."""
        return self._index.zarr_format

    def _full_paths(self) -> list[str]:
        paths = self._index.sorted_paths
        if not self._prefix:
            return paths
        lo = bisect.bisect_left(paths, self._prefix + "/")
        hi = bisect.bisect_left(paths, self._prefix + "0")  # "0" sorts right after "/"
        return paths[lo:hi]

    def paths(self) -> list[str]:
        """Every listed path, relative to this group, sorted."""
        cut = len(self._prefix) + 1 if self._prefix else 0
        return [p[cut:] for p in self._full_paths()]

    def __len__(self) -> int:
        return len(self._full_paths())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and join_path(self._prefix, path) in self._index.entries

    def node_type(self, path: str) -> str | None:
        """``"array"``, ``"group"``, or None if ``path`` is not listed (no parsing)."""
        return self._index.kinds.get(join_path(self._prefix, path))

    def children(self, path: str = "") -> list[str]:
        """The names of the listed children of ``path`` (relative to this group), sorted."""
        return list(self._index.children.get(join_path(self._prefix, path), ()))

    def get(self, path: str) -> NodeMetadata | None:
        """The metadata of the node at ``path``, or None if not listed.

        A group's metadata carries the consolidated metadata of its own subtree.

        Raises
        ------
        MetadataError
            If the entry is malformed (the message names its path).
        """
        full = join_path(self._prefix, path)
        if full not in self._index.entries:
            return None
        node = self._index.raw_node(full)
        if node.node_type == "group":
            return node.with_consolidated(ConsolidatedMetadata(self._index, full))
        return node

    def __getitem__(self, path: str) -> NodeMetadata:
        node = self.get(path)
        if node is None:
            raise KeyError(path)
        return node

    def subtree(self, path: str) -> ConsolidatedMetadata:
        """A view of the entries below the group at ``path`` (sharing this index)."""
        return ConsolidatedMetadata(self._index, join_path(self._prefix, path))

    def iter_nodes(
        self, max_depth: int | None = None
    ) -> Iterator[tuple[str, NodeMetadata | UnreadableNode]]:
        """``(relative path, metadata)`` of every listed node, sorted by path.

        ``max_depth=0`` yields the immediate children only; None yields everything. An entry
        that cannot be parsed is yielded as an :class:`UnreadableNode` (its siblings are
        still listed); :meth:`get` raises its error.
        """
        for rel in self.paths():
            if max_depth is not None and rel.count("/") > max_depth:
                continue
            try:
                node = self.get(rel)
            except MetadataError as exc:
                full = join_path(self._prefix, rel)
                kind = self._index.kinds.get(full, "unknown")
                yield rel, UnreadableNode(full, kind, self._index.zarr_format, exc)
                continue
            assert node is not None
            yield rel, node

    @property
    def metadata(self) -> dict[str, NodeMetadata]:
        """The immediate children by name (zarr-python's nested form)."""
        return {name: self[name] for name in self.children("")}

    @property
    def flattened_metadata(self) -> dict[str, NodeMetadata]:
        """Every node below this group keyed by its relative path.

        Groups appear without consolidated metadata of their own, as in the flat document.
        """
        cut = len(self._prefix) + 1 if self._prefix else 0
        return {p[cut:]: self._index.raw_node(p) for p in self._full_paths()}

    def validate(self) -> None:
        """Parse every entry now, raising the first entry's error (names its path)."""
        for p in self._full_paths():
            self._index.raw_node(p)

    # --- changing (returns new objects) ------------------------------------------------------

    def _flat_raw(self) -> dict[str, _Raw]:
        cut = len(self._prefix) + 1 if self._prefix else 0
        entries = self._index.entries
        return {p[cut:]: entries[p] for p in self._full_paths()}

    def _rebuilt(self, entries: dict[str, _Raw]) -> ConsolidatedMetadata:
        kinds = {p: _raw_kind(r) for p, r in entries.items()}
        _check_tree(kinds, "consolidated metadata")
        return ConsolidatedMetadata(_Index(entries, kinds, self.zarr_format))

    def with_nodes(self, nodes: Mapping[str, NodeMetadata]) -> ConsolidatedMetadata:
        """A copy with the given nodes added or replaced (paths relative to this group)."""
        entries = self._flat_raw()
        for path, node in nodes.items():
            if node.zarr_format != self.zarr_format:
                raise ConsolidatedMetadataError(
                    f"cannot list format {node.zarr_format} node {path!r} in format "
                    f"{self.zarr_format} consolidated metadata"
                )
            if node.node_type == "array":
                # An array replacing a group takes the group's subtree with it.
                _drop_below(entries, path)
            entries[path] = node
        return self._rebuilt(entries)

    def without(self, path: str) -> ConsolidatedMetadata:
        """A copy without the node at ``path`` and everything below it."""
        entries = self._flat_raw()
        entries.pop(path, None)
        _drop_below(entries, path)
        return self._rebuilt(entries)

    def moved(self, source: str, dest: str) -> ConsolidatedMetadata:
        """A copy with ``source`` and its subtree renamed to ``dest``."""
        entries = self._flat_raw()
        moved: dict[str, _Raw] = {}
        if source in entries:
            moved[dest] = entries.pop(source)
        for p in [p for p in entries if p.startswith(source + "/")]:
            moved[dest + p[len(source) :]] = entries.pop(p)
        entries.update(moved)
        return self._rebuilt(entries)

    # --- writing -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The format 3 inline form, flat, as zarr-python 3 writes it.

        Child groups carry an empty inline ``consolidated_metadata``, as zarr-python's do.
        """
        out: dict[str, Any] = {}
        cut = len(self._prefix) + 1 if self._prefix else 0
        for full in self._full_paths():
            out[full[cut:]] = _entry_v3_dict(self._index.entries[full], full, self._index)
        return {"kind": "inline", "must_understand": False, "metadata": out}

    def to_zmetadata(self, group: NodeMetadata) -> dict[str, Any]:
        """The format 2 ``.zmetadata`` document for ``group`` (its own ``.zgroup`` and
        ``.zattrs`` first, then every node below, as zarr-python writes it)."""
        meta: dict[str, Any] = {".zgroup": {"zarr_format": 2}}
        if group.attributes:
            meta[".zattrs"] = thaw(group.attributes)
        cut = len(self._prefix) + 1 if self._prefix else 0
        for full in self._full_paths():
            rel = full[cut:]
            raw = self._index.entries[full]
            if isinstance(raw, V2Entry):
                docs = {".zarray": raw.zarray, ".zgroup": raw.zgroup, ".zattrs": raw.zattrs}
                for name, doc in docs.items():
                    if doc is not None:
                        meta[f"{rel}/{name}"] = thaw(doc)
            else:
                node = self._index.raw_node(full)
                for name, doc in _v2_dicts(node).items():
                    meta[f"{rel}/{name}"] = doc
        return {"metadata": meta, "zarr_consolidated_format": 1}

    # --- comparison --------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConsolidatedMetadata):
            return NotImplemented
        if self.zarr_format != other.zarr_format or self.paths() != other.paths():
            return False
        return self.flattened_metadata == other.flattened_metadata

    def __hash__(self) -> int:
        return hash((self.zarr_format, tuple(self.paths())))

    def __repr__(self) -> str:
        return f"ConsolidatedMetadata(zarr_format={self.zarr_format}, nodes={len(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (
                self.zarr_format,
                self.to_dict() if self.zarr_format == 3 else None,
                self._flat_raw() if self.zarr_format == 2 else None,
            ),
        )


def _rebuild(
    zarr_format: int, inline: dict[str, Any] | None, flat: dict[str, _Raw] | None
) -> ConsolidatedMetadata:
    if inline is not None:
        return ConsolidatedMetadata.from_dict(inline)
    entries = dict(flat or {})
    kinds = {p: _raw_kind(r) for p, r in entries.items()}
    return ConsolidatedMetadata(_Index(entries, kinds, zarr_format))
