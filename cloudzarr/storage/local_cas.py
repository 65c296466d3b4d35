"""Compare-and-swap on local files, shared by :class:`~cloudzarr.storage.local.LocalStore` and
:class:`~cloudzarr.storage.fsspec.FsspecStore` over ``file://``. Functions here block; callers
run them in worker threads.

Both stores write a key by renaming a finished temporary file over it, so every write gives the
key a new inode and a reader always holds one whole value. A conditional replace:

1. opens the key's current file and takes an exclusive ``flock`` on that inode;
2. checks that the key still names the locked inode (a replace may have moved the key to a new
   file while we waited: then it starts over on the new file);
3. reads the locked file and compares its version with the expected one;
4. writes the new value to a temporary file and renames it over the key, still holding the
   lock, and only then releases it.

Two conditional replaces of one key therefore never both succeed against one version: the
second waits for the first's lock, finds the key on a new inode, and compares against that. This
holds between threads and between processes on one host, on any file system where ``flock`` is
honoured across them (local file systems; NFSv4 with locking).

A key's version is ``inode.mtime_ns.digest``: the digest of the bytes keeps the token sound when
the file system reuses a freed inode number within its timestamp granularity.

Not covered: a plain ``set`` or ``delete`` of the key takes no lock, so one that lands between
steps 3 and 4 is overwritten (a set) or undone (a delete) by the conditional replace. Keys that
several processes read-modify-write must be written only through ``set_if_version``, as
cloudzarr does for consolidated metadata.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat

from cloudzarr.errors import StoreError
from cloudzarr.storage.versions import content_version

# A replace that keeps landing between our open and our lock makes us start over; each start
# over means another writer succeeded, so this only bounds pathological churn.
_LOCK_ATTEMPTS = 64

_MISSING = (FileNotFoundError, NotADirectoryError)

# Values are opened and created relative to their folder's descriptor and never through a link
# (a LocalStore walks to that folder without following links; see local_fs). O_NONBLOCK keeps
# a FIFO planted where a value should be from blocking the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def file_version(st: os.stat_result, data: bytes) -> str:
    """The version token of a file whose stat is ``st`` and whose bytes are ``data``."""
    return f"{st.st_ino:x}.{st.st_mtime_ns:x}.{content_version(data)}"


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", closefd=False) as f:
        return f.read()


def _open_parent(path: str) -> int | None:
    try:
        return os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except _MISSING:
        return None


def read_versioned(path: str) -> tuple[bytes, str] | None:
    """The bytes and version of the file at ``path``; None if it is missing or a folder."""
    dir_fd = _open_parent(path)
    if dir_fd is None:
        return None
    try:
        return read_versioned_at(dir_fd, os.path.basename(path))
    finally:
        os.close(dir_fd)


def read_versioned_at(dir_fd: int, name: str) -> tuple[bytes, str] | None:
    """:func:`read_versioned` of ``name`` in the folder ``dir_fd`` (a link there is not
    followed: it reads as missing)."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except (*_MISSING, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = _read_all(fd)
    finally:
        os.close(fd)
    return data, file_version(st, data)


def _write_temp(dir_fd: int, value: bytes, temp_prefix: str) -> str:
    name = f"{temp_prefix}{secrets.token_hex(8)}"
    fd = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    return name


def _open_for_lock(dir_fd: int, name: str) -> int:
    # On NFS, flock is emulated with fcntl locks, and an exclusive one needs a descriptor open
    # for writing; a file we may not write (but may replace: that needs the folder only) is
    # opened for reading, which local file systems accept. O_NONBLOCK: a FIFO must not block.
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        return os.open(name, os.O_RDWR | flags, dir_fd=dir_fd)
    except PermissionError:
        return os.open(name, os.O_RDONLY | flags, dir_fd=dir_fd)


def replace_if_version(path: str, value: bytes, version: str, temp_prefix: str) -> bool:
    """Replace the file at ``path`` with ``value`` if it holds ``version`` (see the module notes).

    Returns False, writing nothing, if the file is missing or holds another version.
    """
    dir_fd = _open_parent(path)
    if dir_fd is None:
        return False
    try:
        return replace_if_version_at(dir_fd, os.path.basename(path), value, version, temp_prefix)
    finally:
        os.close(dir_fd)


def replace_if_version_at(
    dir_fd: int, name: str, value: bytes, version: str, temp_prefix: str
) -> bool:
    """:func:`replace_if_version` of ``name`` in the folder ``dir_fd``: the lock, the check and
    the rename all act on that folder, never through a link."""
    for _ in range(_LOCK_ATTEMPTS):
        try:
            fd = _open_for_lock(dir_fd, name)
        except (*_MISSING, IsADirectoryError):
            return False
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return False  # a link is never a value
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            locked = os.fstat(fd)
            if not stat.S_ISREG(locked.st_mode):
                return False
            try:
                current = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except _MISSING:
                return False  # deleted while we waited for the lock
            if (current.st_dev, current.st_ino) != (locked.st_dev, locked.st_ino):
                continue  # replaced while we waited: lock the file that is there now
            if file_version(locked, _read_all(fd)) != version:
                return False
            try:
                tmp = _write_temp(dir_fd, value, temp_prefix)
            except _MISSING:
                return False  # a delete_dir removed the key's folder: the key is gone
            try:
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except _MISSING:
                return False  # a delete_dir removed our temporary file and the key with it
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
            return True
        finally:
            os.close(fd)  # releases the lock, after the rename
    raise StoreError(f"cannot replace {name!r}: it kept being replaced while we waited to lock it")
