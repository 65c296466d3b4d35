"""What :class:`~cloudzarr.storage.fsspec.FsspecStore` needs to know about a filesystem (its
protocol, whether it is async, how it can create atomically) and the local-file helpers it runs
on a worker thread (whole-file writes through a temporary file, pruning emptied folders)."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from typing import Any

from cloudzarr.errors import StoreError

__all__ = ["LOCAL_TEMP_PREFIX"]

#: Protocols whose async ``_pipe_file(mode="create")`` is one conditional request.
_NATIVE_CREATE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})

#: Serialises create on fsspec's in-process memory filesystem (shared by every instance).
_MEMORY_CREATE_LOCK = threading.Lock()


def _first_protocol(fs: Any) -> str:
    protocol = fs.protocol
    return protocol if isinstance(protocol, str) else protocol[0]


def _is_async_filesystem(fs: Any) -> bool:
    # A wrapper such as DirFileSystem is an AsyncFileSystem class but is only async when the
    # filesystem it wraps (its ``fs``) is.
    inner = getattr(fs, "fs", None)
    if inner is not None and hasattr(inner, "async_impl"):
        return bool(fs.async_impl and inner.async_impl)
    return bool(getattr(fs, "async_impl", False))


def _create_strategy(fs: Any) -> str:
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if "memory" in protocols:
        return "memory"
    if "file" in protocols or "local" in protocols:
        return "local"
    if getattr(fs, "async_impl", False) and protocols & _NATIVE_CREATE_PROTOCOLS:
        return "native"
    return "none"


#: Temporary files of local writes start with this; listings never show them.
LOCAL_TEMP_PREFIX = ".cloudzarr-tmp-"


# --- local filesystem helpers (run on a worker thread) ------------------------------------------


def _is_temp(relative: str) -> bool:
    return relative.rsplit("/", 1)[-1].startswith(LOCAL_TEMP_PREFIX)


def _local_write(fs: Any, path: str, value: bytes, *, exclusive: bool) -> None:
    """Write a local file whole: readers see the old value or the new one, never a part.

    The value goes to a temporary file in the same folder first; ``os.replace`` then swaps it
    in, or, for ``exclusive``, ``os.link`` publishes it only if ``path`` does not exist yet
    (atomic on POSIX, so exactly one concurrent creator succeeds).
    """
    folder = os.path.dirname(path)
    for _attempt in range(3):
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f"{LOCAL_TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as f:
                f.write(value)
        except FileNotFoundError:
            # A concurrent delete pruned the folder between makedirs and open: retry.
            continue
        try:
            if not exclusive:
                os.replace(tmp, path)
                return
            try:
                os.link(tmp, path)
            finally:
                os.unlink(tmp)
            return
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            continue
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    raise StoreError(f"could not write {path}: its folder keeps disappearing")


def _prune_empty_dirs(folder: str, root: str) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``root``."""
    root = root.rstrip("/")
    while folder.startswith(root + "/"):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)


def _remove_empty_tree(base: str, root: str) -> None:
    """Remove empty folders under ``base``, then ``base`` and its empty parents below ``root``."""
    if not os.path.isdir(base):
        return
    for dirpath, _dirnames, _files in os.walk(base, topdown=False):
        if dirpath != root.rstrip("/"):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
    _prune_empty_dirs(os.path.dirname(base), root)
