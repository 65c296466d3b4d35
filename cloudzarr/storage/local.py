"""A store over a folder on the local file system.

Each key is a file under the root; ``/`` in a key becomes a sub-folder. Every write goes to a
temporary file in the key's own folder and is then renamed over the key (``os.replace``), so a
reader sees either the old value or the new one, never part of one. ``set_if_not_exists`` writes
its temporary file the same way and then hard-links it to the key: ``link`` fails if the key
exists, atomically, so of any number of creators exactly one wins. ``set_if_version`` locks the
key's current file, checks its version and renames the new value over it before unlocking (see
:mod:`cloudzarr.storage.local_cas` for what that guarantees, between processes too).

All file I/O runs in worker threads (``asyncio.to_thread``); the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from cloudzarr.errors import AccessDeniedError, InvalidKeyError, KeyNotFoundError, StoreError
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.byte_range import ByteRequest, resolve_range
from cloudzarr.storage.local_cas import read_versioned, replace_if_version

#: Temporary files start with this; keys whose last segment starts with it are refused, and
#: listings never show such names (a crashed writer may leave one behind).
TEMP_PREFIX = ".cloudzarr-tmp-"

#: Names per listing page.
PAGE_SIZE = 1000

# A concurrent delete may remove a folder between our makedirs and our write (it prunes folders
# it leaves empty). Writes start over this many times before giving up.
_WRITE_ATTEMPTS = 16

# File systems without hard links answer link() with one of these; set_if_not_exists then falls
# back to an exclusive create (still atomic between creators, but a reader may see a short file).
_NO_LINK_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


class LocalStore(Store):
    """A store whose keys are files under a local folder.

    Parameters
    ----------
    root
        The folder holding the keys. It need not exist: reads of a missing root find nothing,
        and the first write creates it.
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`. The concurrency defaults to
        ``CLOUDZARR_LOCAL_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 32.

    Notes
    -----
    - Nothing is read or written outside ``root``: besides the key checks every store makes, each
      path is resolved (following symbolic links) and must stay inside the resolved root, else
      :class:`~cloudzarr.errors.InvalidKeyError`. Listings do not descend into linked folders.
    - Deleting a key or a prefix also removes the folders it leaves empty (never ``root``), so
      ``list_dir`` does not report names that hold no key.
    - Writes are atomic but not fsync'ed: a reader never sees half a value, but a power cut may
      lose recent writes.
    - A key cannot be both a value and a folder (``"a"`` and ``"a/b"``), as on any file system;
      writing one over the other raises :class:`~cloudzarr.errors.StoreError` naming the key.
    - Two stores are equal when their roots are the same absolute path; a store pickles as that
      path.
    - ``set_if_version`` is atomic against other conditional writes of the key from any thread
      or process on the host (an ``flock`` on the key's file); a plain ``set`` or ``delete``
      racing it may be lost. A version is the file's inode, modification time and a digest of
      its bytes.
    """

    default_concurrency = 32
    concurrency_env = "CLOUDZARR_LOCAL_CONCURRENCY"
    supports_bulk_delete = True
    supports_compare_and_swap = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(read_only=read_only, concurrency=concurrency)
        self._root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        # Resolved once: containment checks compare resolved paths against it.
        self._real_root = os.path.realpath(self._root)

    @property
    def root(self) -> Path:
        """The absolute path of the root folder."""
        return Path(self._root)

    def _config(self) -> dict[str, Any]:
        return {"root": self._root}

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"LocalStore({self._root!r}{ro})"

    # --- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        """The file path of ``key`` (or of a normalized prefix), checked to stay inside root."""
        if not key:
            return self._root
        segments = key.split("/")
        if segments[-1].startswith(TEMP_PREFIX):
            raise InvalidKeyError(
                f"store key {key!r} starts with {TEMP_PREFIX!r}, reserved for temporary files"
            )
        path = os.path.join(self._root, *segments)
        real = os.path.realpath(path)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise InvalidKeyError(
                f"store key {key!r} resolves to {real!r}, outside the store root {self._root!r}"
            )
        return path

    async def _run[T](self, what: str, func: Callable[..., T], *args: Any) -> T:
        """Run ``func`` in a worker thread; OS errors become store errors naming ``what``."""
        # Path resolution happens inside ``func`` too: realpath touches the disk.
        try:
            return await asyncio.to_thread(func, *args)
        except StoreError:
            raise
        except PermissionError as exc:
            raise AccessDeniedError(f"permission denied on {what} in {self!r}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot access {what} in {self!r}: {exc}") from exc

    def _walk_keys(self, prefix: str) -> Generator[str]:
        # A generator advanced page by page in worker threads; resolving its folder is its
        # first step, so that also runs off the event loop.
        yield from _walk_folder(self._path(prefix), prefix)

    # --- reads -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        return await self._run(f"key {key!r}", lambda: _read(self._path(key), byte_range))

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        return await self._run(f"key {key!r}", lambda: read_versioned(self._path(key)))

    async def _exists(self, key: str) -> bool:
        return await self._run(f"key {key!r}", lambda: os.path.isfile(self._path(key)))

    async def _getsize(self, key: str) -> int:
        size = await self._run(f"key {key!r}", lambda: _file_size(self._path(key)))
        if size is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self!r}")
        return size

    # --- writes ----------------------------------------------------------------------------

    async def _set(self, key: str, value: bytes) -> None:
        await self._run(f"key {key!r}", self._write, key, value, False)

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        return await self._run(f"key {key!r}", self._write, key, value, True)

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        return await self._run(
            f"key {key!r}",
            lambda: replace_if_version(self._path(key), value, version, TEMP_PREFIX),
        )

    def _write(self, key: str, value: bytes, exclusive: bool) -> bool:
        path = self._path(key)
        parent = os.path.dirname(path)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                os.makedirs(parent, exist_ok=True)
                tmp = _write_temp(parent, value)
            except FileNotFoundError:
                continue  # a concurrent delete pruned a folder we had just made
            except (NotADirectoryError, FileExistsError) as exc:
                # Either a parent really is a value, or makedirs lost a race with a delete
                # that removed a folder between its mkdir and its isdir check.
                if self._value_above(parent):
                    raise StoreError(
                        f"cannot write key {key!r} in {self!r}: a parent of it is a value"
                    ) from exc
                continue
            try:
                if exclusive:
                    return _link_exclusive(key, tmp, path, self)
                _replace(key, tmp, path, self)
                return True
            except FileNotFoundError:
                continue  # our temporary file or its folder was removed by a delete_dir
            finally:
                _unlink_quietly(tmp)
        raise StoreError(f"cannot write key {key!r} in {self!r}: its folder keeps vanishing")

    def _value_above(self, folder: str) -> bool:
        """Whether ``folder`` or one of its parents below the root is a file, not a folder."""
        while folder != self._root and folder.startswith(self._root + os.sep):
            try:
                if not stat.S_ISDIR(os.stat(folder).st_mode):
                    return True
            except (FileNotFoundError, NotADirectoryError):
                pass
            folder = os.path.dirname(folder)
        return False

    async def _delete(self, key: str) -> None:
        await self._run(f"key {key!r}", self._remove_file, key)

    def _remove_file(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            # Missing, under a value rather than a folder, or a folder (Linux says EISDIR, macOS
            # EPERM): no value at this key, nothing to delete.
            if os.path.isfile(path):
                raise
            return
        self._prune(os.path.dirname(path))

    async def _delete_dir(self, prefix: str) -> None:
        await self._run(f"prefix {prefix!r}", self._remove_tree, prefix)

    def _remove_tree(self, prefix: str) -> None:
        path = self._path(prefix)
        if path == self._root:
            for entry in _scan(path):
                _remove_entry(entry.path, entry.is_dir(follow_symlinks=False))
            return
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISREG(st.st_mode):
            return  # a value, not a folder: nothing lies under "prefix/"
        _remove_entry(path, stat.S_ISDIR(st.st_mode))
        self._prune(os.path.dirname(path))

    def _prune(self, folder: str) -> None:
        """Remove ``folder`` and its parents while they are empty, stopping at the root."""
        while folder != self._root and folder.startswith(self._root + os.sep):
            try:
                os.rmdir(folder)
            except OSError:
                return  # not empty (or already gone, or busy): stop climbing
            folder = os.path.dirname(folder)

    # --- listings --------------------------------------------------------------------------

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        walker = self._walk_keys(prefix)
        try:
            while True:
                page = await self._run(f"prefix {prefix!r}", _take, walker, PAGE_SIZE)
                if page:
                    yield page
                if len(page) < PAGE_SIZE:
                    return
        finally:
            # If this listing was cancelled while a worker thread still advances the walker,
            # closing it raises ValueError; the thread finishes its page and the walker is
            # collected then.
            with contextlib.suppress(ValueError):
                walker.close()

    async def _list_dir_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        names = await self._run(f"prefix {prefix!r}", lambda: _one_level(self._path(prefix)))
        for start in range(0, len(names), PAGE_SIZE):
            yield names[start : start + PAGE_SIZE]


# --- file operations, run in worker threads ------------------------------------------------


def _read(path: str, byte_range: ByteRequest | None) -> bytes | None:
    # Plain descriptor reads sized from fstat: one read call for a whole value, where a
    # buffered file object reads until it sees EOF (each call a GIL hand-off, which the event
    # loop and codec threads feel when hundreds of chunks are read at once).
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None
        start, end = (
            (0, st.st_size) if byte_range is None else resolve_range(byte_range, st.st_size)
        )
        if start >= end:
            return b""
        data = os.pread(fd, end - start, start)
        if len(data) == end - start:
            return data
        # A short read (a file growing or shrinking under us, or a huge value): finish it.
        parts = [data]
        offset = start + len(data)
        while offset < end:
            more = os.pread(fd, end - offset, offset)
            if not more:
                break
            parts.append(more)
            offset += len(more)
        return b"".join(parts)
    finally:
        os.close(fd)


def _file_size(path: str) -> int | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _write_temp(folder: str, value: bytes) -> str:
    tmp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _replace(key: str, tmp: str, path: str, store: LocalStore) -> None:
    try:
        os.replace(tmp, path)
    except IsADirectoryError as exc:
        raise StoreError(f"cannot write key {key!r} in {store!r}: it is a folder of keys") from exc


def _link_exclusive(key: str, tmp: str, path: str, store: LocalStore) -> bool:
    try:
        os.link(tmp, path, follow_symlinks=False)
        return True
    except FileExistsError:
        if os.path.isdir(path) and not os.path.islink(path):
            raise StoreError(
                f"cannot write key {key!r} in {store!r}: it is a folder of keys"
            ) from None
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
    # No hard links here: an exclusive create is still atomic between creators.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f, open(tmp, "rb") as src:
        shutil.copyfileobj(src, f)
    return True


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _remove_entry(path: str, is_dir: bool) -> None:
    if not is_dir:
        _unlink_quietly(path)  # a value, or a symbolic link (removed, never followed)
        return
    # Like delete_dir on an object store: remove what is there now, and let a value a concurrent
    # writer adds meanwhile survive (with the folders holding it) instead of failing the delete.
    for folder, subfolders, files in os.walk(path, topdown=False):
        for name in files:
            _unlink_quietly(os.path.join(folder, name))
        for name in subfolders:
            sub = os.path.join(folder, name)
            if os.path.islink(sub):
                _unlink_quietly(sub)  # a link to a folder: removed, never followed
            else:
                _rmdir_if_empty(sub)
    _rmdir_if_empty(path)


def _rmdir_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
            raise


def _scan(folder: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_key_entry(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False)


def _is_folder_entry(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _walk_folder(folder: str, prefix: str) -> Iterator[str]:
    """Every key below ``folder`` (whose key prefix is ``prefix``), depth first, in name order."""
    for entry in _scan(folder):
        key = f"{prefix}/{entry.name}" if prefix else entry.name
        if _is_folder_entry(entry):
            yield from _walk_folder(entry.path, key)
        elif _is_key_entry(entry):
            yield key


def _take(it: Iterator[str], n: int) -> list[str]:
    page: list[str] = []
    for item in it:
        page.append(item)
        if len(page) == n:
            break
    return page


def _one_level(folder: str) -> list[str]:
    return [e.name for e in _scan(folder) if _is_folder_entry(e) or _is_key_entry(e)]
