"""Group metadata: :class:`GroupMetadataV3` (``zarr.json``) and :class:`GroupMetadataV2`
(``.zgroup`` + ``.zattrs``).

Both carry the group's attributes and, optionally, the
:class:`~cloudzarr.metadata.consolidated.ConsolidatedMetadata` of its subtree. In format 3 the
consolidated metadata lives inline in the group's ``zarr.json``; in format 2 it lives in a
separate ``.zmetadata`` document, so :meth:`GroupMetadataV2.to_documents` never writes it (the
group layer writes ``.zmetadata`` itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self

from cloudzarr.errors import InvalidMetadataError, UnsupportedFormatError
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw
from cloudzarr.metadata.jsonio import check_json_value, dump_document

__all__ = ["GroupMetadata", "GroupMetadataV2", "GroupMetadataV3", "new_group_metadata"]

_V3_KNOWN = frozenset({"zarr_format", "node_type", "attributes", "consolidated_metadata"})


def _where(path: str | None) -> str:
    return f"group {path!r}" if path is not None else "group"


def _check_attributes(value: Any, where: str, key: str) -> FrozenDict:
    if not isinstance(value, Mapping):
        raise InvalidMetadataError(
            f"{where}: field 'attributes' of {key} must be a JSON object, "
            f"got {type(value).__name__}"
        )
    frozen: FrozenDict = deep_freeze(value)
    return frozen


@dataclass(frozen=True)
class GroupMetadataV3:
    """The ``zarr.json`` of a Zarr format 3 group.

    Parameters
    ----------
    attributes
        User attributes (deep-frozen).
    consolidated_metadata
        The consolidated metadata of the subtree, or None.
    extra_fields
        Unknown top-level fields marked ``must_understand: false``, kept for round trips.
    """

    attributes: Mapping[str, Any] = field(default_factory=FrozenDict)
    consolidated_metadata: ConsolidatedMetadata | None = None
    extra_fields: Mapping[str, Any] = field(default_factory=FrozenDict)
    zarr_format: Literal[3] = field(default=3, init=False)
    node_type: Literal["group"] = field(default="group", init=False)

    def __post_init__(self) -> None:
        check_json_value(self.attributes, "attributes")
        object.__setattr__(self, "attributes", deep_freeze(dict(self.attributes)))
        object.__setattr__(self, "extra_fields", deep_freeze(dict(self.extra_fields)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str | None = None) -> Self:
        """Validate and build from a parsed ``zarr.json``.

        Raises
        ------
        InvalidMetadataError
            A field is missing or of the wrong form (the message names the path and field).
        UnsupportedFormatError
            ``zarr_format`` is not 3, ``node_type`` is not ``"group"``, or an unknown field is
            not marked ``must_understand: false``.
        """
        where = _where(path)
        if not isinstance(data, Mapping):
            raise InvalidMetadataError(f"{where}: zarr.json must be a JSON object")
        if data.get("zarr_format") != 3:
            raise UnsupportedFormatError(
                f"{where}: zarr.json field 'zarr_format' must be 3, got {data.get('zarr_format')!r}"
            )
        if data.get("node_type") != "group":
            raise UnsupportedFormatError(
                f"{where}: zarr.json field 'node_type' must be 'group', "
                f"got {data.get('node_type')!r}"
            )
        attributes = _check_attributes(data.get("attributes", {}), where, "zarr.json")
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in _V3_KNOWN:
                continue
            if isinstance(value, Mapping) and value.get("must_understand") is False:
                extra[key] = value
            else:
                raise UnsupportedFormatError(
                    f"{where}: zarr.json has unknown field {key!r} not marked "
                    "'must_understand: false'"
                )
        consolidated = None
        raw_cm = data.get("consolidated_metadata")
        if raw_cm is not None:
            consolidated = ConsolidatedMetadata.from_dict(raw_cm, path=path)
        return cls(attributes=attributes, consolidated_metadata=consolidated, extra_fields=extra)

    def to_dict(self) -> dict[str, Any]:
        """The ``zarr.json`` document as plain JSON values."""
        doc: dict[str, Any] = {
            "attributes": thaw(self.attributes),
            "zarr_format": 3,
            "node_type": "group",
        }
        if self.consolidated_metadata is not None:
            doc["consolidated_metadata"] = self.consolidated_metadata.to_dict()
        for key, value in self.extra_fields.items():
            doc[key] = thaw(value)
        return doc

    def to_documents(self) -> dict[str, bytes]:
        """``{"zarr.json": bytes}``."""
        return {"zarr.json": dump_document(self.to_dict())}

    def with_attributes(self, attributes: Mapping[str, Any]) -> Self:
        """A copy with ``attributes`` replaced."""
        return replace(self, attributes=attributes)

    def with_consolidated(self, consolidated: ConsolidatedMetadata | None) -> Self:
        """A copy with the consolidated metadata replaced (None removes it)."""
        return replace(self, consolidated_metadata=consolidated)


@dataclass(frozen=True)
class GroupMetadataV2:
    """A Zarr format 2 group: its ``.zgroup`` and ``.zattrs`` documents.

    Parameters
    ----------
    attributes
        The contents of ``.zattrs`` (deep-frozen).
    consolidated_metadata
        The subtree's consolidated metadata when it was read from (or is to be written to)
        ``.zmetadata``; never part of :meth:`to_documents`.
    """

    attributes: Mapping[str, Any] = field(default_factory=FrozenDict)
    consolidated_metadata: ConsolidatedMetadata | None = None
    zarr_format: Literal[2] = field(default=2, init=False)
    node_type: Literal["group"] = field(default="group", init=False)

    def __post_init__(self) -> None:
        check_json_value(self.attributes, "attributes")
        object.__setattr__(self, "attributes", deep_freeze(dict(self.attributes)))

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        *,
        path: str | None = None,
    ) -> Self:
        """Validate and build from a parsed ``.zgroup`` and, optionally, ``.zattrs``.

        ``data`` may also carry the attributes under ``"attributes"`` (zarr-python's merged
        form). zarr-python writes a ``consolidated_metadata`` field into the
        ``.zgroup`` entries of ``.zmetadata``; it is ignored here.
        """
        where = _where(path)
        if not isinstance(data, Mapping):
            raise InvalidMetadataError(f"{where}: .zgroup must be a JSON object")
        if data.get("zarr_format") != 2:
            raise UnsupportedFormatError(
                f"{where}: .zgroup field 'zarr_format' must be 2, got {data.get('zarr_format')!r}"
            )
        raw_attrs = attributes if attributes is not None else data.get("attributes", {})
        attrs = _check_attributes(raw_attrs, where, ".zattrs")
        return cls(attributes=attrs)

    def to_dict(self) -> dict[str, Any]:
        """The ``.zgroup`` document (attributes are not part of it; see :meth:`to_documents`)."""
        return {"zarr_format": 2}

    def to_documents(self) -> dict[str, bytes]:
        """``.zgroup`` and, when attributes are not empty, ``.zattrs``."""
        docs = {".zgroup": dump_document({"zarr_format": 2})}
        if self.attributes:
            docs[".zattrs"] = dump_document(thaw(self.attributes))
        return docs

    def with_attributes(self, attributes: Mapping[str, Any]) -> Self:
        """A copy with ``attributes`` replaced."""
        return replace(self, attributes=attributes)

    def with_consolidated(self, consolidated: ConsolidatedMetadata | None) -> Self:
        """A copy with the consolidated metadata replaced (None removes it)."""
        return replace(self, consolidated_metadata=consolidated)


GroupMetadata = GroupMetadataV2 | GroupMetadataV3


def new_group_metadata(
    zarr_format: int, attributes: Mapping[str, Any] | None = None
) -> GroupMetadataV2 | GroupMetadataV3:
    """The metadata of a new group of ``zarr_format`` with ``attributes``."""
    if zarr_format == 3:
        return GroupMetadataV3(attributes=attributes or {})
    return GroupMetadataV2(attributes=attributes or {})
