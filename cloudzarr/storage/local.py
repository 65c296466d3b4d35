"""A store over a folder on the local file system.

Each key is a file under the root; ``/`` in a key becomes a sub-folder. Every write goes to a
temporary file in the key's own folder and is then renamed over the key (``os.replace``), so a
reader sees either the old value or the new one, never part of one. ``set_if_not_exists`` writes
its temporary file the same way and then hard-links it to the key: ``link`` fails if the key
exists, atomically, so of any number of creators exactly one wins. ``set_if_version`` locks the
key's current file, checks its version and renames the new value over it before unlocking (see
:mod:`cloudzarr.storage.local_cas` for what that guarantees, between processes too).

Paths are never resolved by name: every operation opens the root, then each folder of the key
relative to the one above without following links, and acts relative to the descriptor of the
key's own folder (see :mod:`cloudzarr.storage.local_fs`). A concurrent swap of a folder for a
symbolic link therefore cannot move a read or a write outside the root.

All file I/O runs in worker threads (``asyncio.to_thread``); the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from cloudzarr.errors import AccessDeniedError, InvalidKeyError, KeyNotFoundError, StoreError
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.byte_range import ByteRequest, resolve_range
from cloudzarr.storage.local_cas import read_versioned_at, replace_if_version_at
from cloudzarr.storage.local_fs import (
    FILE_FLAGS,
    ValueAboveError,
    close_all,
    link_refused,
    list_folder,
    lstat_at,
    open_chain,
    open_folder,
    remove_tree_at,
    walk_keys,
)

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

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


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
    - Nothing is read or written outside ``root``, even while another process swaps folders
      for links: each folder of a key is opened relative to the one above without following
      symbolic links, and the value is read, created, renamed or removed relative to its
      folder's descriptor. A key whose path meets a link below the root (to anywhere) raises
      :class:`~cloudzarr.errors.InvalidKeyError`; listings and deletes skip links (a delete
      removes the link itself, never what it points to). ``root`` itself may be a link.
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

    def _split(self, key: str) -> tuple[list[str], str]:
        """The folders of ``key`` below the root and its last segment."""
        *folders, name = key.split("/")
        if name.startswith(TEMP_PREFIX):
            raise InvalidKeyError(
                f"store key {key!r} starts with {TEMP_PREFIX!r}, reserved for temporary files"
            )
        return folders, name

    def _folder(self, key: str, folders: list[str]) -> int | None:
        return open_folder(self._root, folders, key, create=False)

    def _prefix_folder(self, prefix: str) -> int | None:
        """The descriptor of the folder a (normalized) prefix names, None if there is none."""
        if not prefix:
            return self._folder(prefix, [])
        folders, name = self._split(prefix)
        return self._folder(prefix, [*folders, name])

    async def _run[T](self, what: str, func: Callable[..., T], *args: Any) -> T:
        """Run ``func`` in a worker thread; OS errors become store errors naming ``what``."""
        # Path resolution happens inside ``func`` too: each folder open touches the disk.
        try:
            return await asyncio.to_thread(func, *args)
        except StoreError:
            raise
        except PermissionError as exc:
            raise AccessDeniedError(f"permission denied on {what} in {self!r}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot access {what} in {self!r}: {exc}") from exc

    def _walk_keys(self, prefix: str) -> Generator[str]:
        # A generator advanced page by page in worker threads; opening its folder is its first
        # step, so that also runs off the event loop.
        fd = self._prefix_folder(prefix)
        if fd is None:
            return
        try:
            yield from walk_keys(fd, prefix, TEMP_PREFIX)
        finally:
            os.close(fd)

    # --- reads -----------------------------------------------------------------------------

    def _at[T](self, key: str, func: Callable[[int, str], T], missing: T) -> T:
        """``func(folder_fd, name)`` in the folder of ``key``, or ``missing`` without one."""
        folders, name = self._split(key)
        fd = self._folder(key, folders)
        if fd is None:
            return missing
        try:
            return func(fd, name)
        finally:
            os.close(fd)

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        return await self._run(
            f"key {key!r}",
            lambda: self._at(key, lambda fd, name: self._read(key, fd, name, byte_range), None),
        )

    def _read(
        self, key: str, dir_fd: int, name: str, byte_range: ByteRequest | None
    ) -> bytes | None:
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise link_refused(key, key, self._root) from None
            raise
        try:
            return _read_fd(fd, byte_range)
        finally:
            os.close(fd)

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        return await self._run(
            f"key {key!r}", lambda: self._at(key, self._read_versioned(key), None)
        )

    def _read_versioned(self, key: str) -> Callable[[int, str], tuple[bytes, str] | None]:
        def read(fd: int, name: str) -> tuple[bytes, str] | None:
            self._check_not_link(key, fd, name)
            return read_versioned_at(fd, name)

        return read

    def _check_not_link(self, key: str, dir_fd: int, name: str) -> os.stat_result | None:
        st = lstat_at(dir_fd, name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise link_refused(key, key, self._root)
        return st

    def _regular_size(self, key: str) -> int | None:
        def size(fd: int, name: str) -> int | None:
            st = self._check_not_link(key, fd, name)
            return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None

        return self._at(key, size, None)

    async def _exists(self, key: str) -> bool:
        return await self._run(f"key {key!r}", lambda: self._regular_size(key) is not None)

    async def _getsize(self, key: str) -> int:
        size = await self._run(f"key {key!r}", self._regular_size, key)
        if size is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self!r}")
        return size

    # --- writes ----------------------------------------------------------------------------

    async def _set(self, key: str, value: bytes) -> None:
        await self._run(f"key {key!r}", self._write, key, value, False)

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        return await self._run(f"key {key!r}", self._write, key, value, True)

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        def replace(fd: int, name: str) -> bool:
            self._check_not_link(key, fd, name)
            return replace_if_version_at(fd, name, value, version, TEMP_PREFIX)

        return await self._run(f"key {key!r}", lambda: self._at(key, replace, False))

    def _write(self, key: str, value: bytes, exclusive: bool) -> bool:
        folders, name = self._split(key)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                fd = open_folder(self._root, folders, key, create=True)
            except FileNotFoundError:
                continue  # a concurrent delete pruned a folder we had just made
            except ValueAboveError as exc:
                raise StoreError(
                    f"cannot write key {key!r} in {self!r}: a parent of it is a value ({exc})"
                ) from None
            assert fd is not None  # created
            try:
                st = self._check_not_link(key, fd, name)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    raise StoreError(
                        f"cannot write key {key!r} in {self!r}: it is a folder of keys"
                    )
                try:
                    tmp = _write_temp(fd, value)
                except FileNotFoundError:
                    continue  # our folder was removed by a delete_dir: start over
                try:
                    if exclusive:
                        return self._link_exclusive(key, fd, tmp, name)
                    _replace(key, fd, tmp, name, self)
                    return True
                except FileNotFoundError:
                    continue  # our temporary file or its folder was removed by a delete_dir
                finally:
                    _unlink_quietly(fd, tmp)
            finally:
                os.close(fd)
        raise StoreError(f"cannot write key {key!r} in {self!r}: its folder keeps vanishing")

    def _link_exclusive(self, key: str, dir_fd: int, tmp: str, name: str) -> bool:
        try:
            os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
            return True
        except FileExistsError:
            st = self._check_not_link(key, dir_fd, name)
            if st is not None and stat.S_ISDIR(st.st_mode):
                raise StoreError(
                    f"cannot write key {key!r} in {self!r}: it is a folder of keys"
                ) from None
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
        # No hard links here: an exclusive create is still atomic between creators.
        try:
            fd = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            src = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                f.write(_read_fd(src, None) or b"")
            finally:
                os.close(src)
        return True

    async def _delete(self, key: str) -> None:
        await self._run(f"key {key!r}", self._remove_file, key)

    def _remove_file(self, key: str) -> None:
        folders, name = self._split(key)
        chain = open_chain(self._root, folders, key, create=False)
        if chain is None:
            return
        try:
            st = self._check_not_link(key, chain[-1], name)
            if st is None or stat.S_ISDIR(st.st_mode):
                return  # no value at this key, nothing to delete
            _unlink_quietly(chain[-1], name)
            _prune(chain, folders)
        finally:
            close_all(chain)

    async def _delete_dir(self, prefix: str) -> None:
        await self._run(f"prefix {prefix!r}", self._remove_tree, prefix)

    def _remove_tree(self, prefix: str) -> None:
        if not prefix:
            fd = open_folder(self._root, [], prefix, create=False)
            if fd is not None:
                try:
                    remove_tree_at(fd, None)
                finally:
                    os.close(fd)
            return
        folders, name = self._split(prefix)
        chain = open_chain(self._root, folders, prefix, create=False)
        if chain is None:
            return
        try:
            st = lstat_at(chain[-1], name)
            if st is None or stat.S_ISREG(st.st_mode):
                return  # nothing, or a value: nothing lies under "prefix/"
            if stat.S_ISLNK(st.st_mode):
                raise link_refused(prefix, prefix, self._root)
            remove_tree_at(chain[-1], name)
            _prune(chain, folders)
        finally:
            close_all(chain)

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
        names = await self._run(f"prefix {prefix!r}", self._list_one_level, prefix)
        for start in range(0, len(names), PAGE_SIZE):
            yield names[start : start + PAGE_SIZE]

    def _list_one_level(self, prefix: str) -> list[str]:
        fd = self._prefix_folder(prefix)
        if fd is None:
            return []
        try:
            return list_folder(fd, TEMP_PREFIX)
        finally:
            os.close(fd)


# --- file operations, run in worker threads ------------------------------------------------


def _read_fd(fd: int, byte_range: ByteRequest | None) -> bytes | None:
    # Plain descriptor reads sized from fstat: one read call for a whole value, where a
    # buffered file object reads until it sees EOF (each call a GIL hand-off, which the event
    # loop and codec threads feel when hundreds of chunks are read at once).
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return None  # a folder (or a FIFO, a device...): no value here
    start, end = (0, st.st_size) if byte_range is None else resolve_range(byte_range, st.st_size)
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


def _write_temp(dir_fd: int, value: bytes) -> str:
    name = f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
    except BaseException:
        _unlink_quietly(dir_fd, name)
        raise
    return name


def _replace(key: str, dir_fd: int, tmp: str, name: str, store: LocalStore) -> None:
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except IsADirectoryError as exc:
        raise StoreError(f"cannot write key {key!r} in {store!r}: it is a folder of keys") from exc


def _unlink_quietly(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _prune(chain: list[int], folders: list[str]) -> None:
    """Remove the folders of a key while they are empty, deepest first, never the root.

    ``chain`` holds the descriptors of the root and of each folder (``chain[i]`` holds
    ``folders[i]``), so each ``rmdir`` acts on the folder that was walked, never on a path.
    """
    for i in range(len(folders) - 1, -1, -1):
        try:
            os.rmdir(folders[i], dir_fd=chain[i])
        except OSError:
            return  # not empty (or already gone, or busy): stop climbing


def _take(it: Iterator[str], n: int) -> list[str]:
    page: list[str] = []
    for item in it:
        page.append(item)
        if len(page) == n:
            break
    return page
