"""cloudzarr: Zarr v2/v3 hierarchies on cloud object storage, in few round trips."""

from cloudzarr.api.convenience_sync import (
    array,
    empty,
    empty_like,
    from_array,
    full,
    full_like,
    load,
    ones,
    ones_like,
    save,
    save_array,
    save_group,
    zeros,
    zeros_like,
)
from cloudzarr.api.synchronous import (
    consolidate_metadata,
    create_array,
    create_group,
    create_hierarchy,
    create_rooted_hierarchy,
    open,
    open_array,
    open_consolidated,
    open_group,
)
from cloudzarr.arrays import Array, AsyncArray
from cloudzarr.config import config
from cloudzarr.groups import AsyncGroup, Group
from cloudzarr.metadata import ArrayMetadataV2, ArrayMetadataV3
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.storage import LocalStore, MemoryStore, open_store

__all__ = [
    "Array",
    "ArrayMetadataV2",
    "ArrayMetadataV3",
    "AsyncArray",
    "AsyncGroup",
    "ConsolidatedMetadata",
    "Group",
    "GroupMetadataV2",
    "GroupMetadataV3",
    "LocalStore",
    "MemoryStore",
    "array",
    "config",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "create_hierarchy",
    "create_rooted_hierarchy",
    "empty",
    "empty_like",
    "from_array",
    "full",
    "full_like",
    "load",
    "ones",
    "ones_like",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
    "open_store",
    "save",
    "save_array",
    "save_group",
    "zeros",
    "zeros_like",
]
