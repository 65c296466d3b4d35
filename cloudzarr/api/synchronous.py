"""The top-level sync functions: the twins of :mod:`cloudzarr.api.asynchronous`.

Each is made by :func:`~cloudzarr.syncface.sync_function` from its async definition (same name,
parameters and docstring); async nodes in the result come back as :class:`Group` / :class:`Array`.
"""

from __future__ import annotations

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays.array import Array
from cloudzarr.groups.group import Group
from cloudzarr.syncface import sync_function

__all__ = [
    "Array",
    "Group",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "create_hierarchy",
    "create_rooted_hierarchy",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
]

open_group = sync_function(aapi.open_group)
create_group = sync_function(aapi.create_group)
open_consolidated = sync_function(aapi.open_consolidated)
consolidate_metadata = sync_function(aapi.consolidate_metadata)
create_hierarchy = sync_function(aapi.create_hierarchy)
create_rooted_hierarchy = sync_function(aapi.create_rooted_hierarchy)
create_array = sync_function(aapi.create_array)
open_array = sync_function(aapi.open_array)
open = sync_function(aapi.open)  # zarr-python shadows the builtin too
