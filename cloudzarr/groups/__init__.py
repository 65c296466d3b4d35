"""Groups: concurrent discovery, consolidated metadata, hierarchy writes, sync and async."""

from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.groups.group import Group
from cloudzarr.metadata.info import GroupInfo

__all__ = ["AsyncGroup", "Group", "GroupInfo"]
