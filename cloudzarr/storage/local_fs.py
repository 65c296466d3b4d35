"""File operations relative to directory descriptors, never following symbolic links.

:class:`~cloudzarr.storage.local.LocalStore` resolves a key by opening the store root and then
each folder of the key relative to the one above it (``openat`` with ``O_NOFOLLOW``), and does
every final operation (open, create, rename, link, unlink, rmdir, listing) relative to the
descriptor of the key's own folder. A path string is never resolved twice, so a concurrent swap
of a folder for a symbolic link cannot redirect an operation outside the root: the swap is either
seen (the link is refused) or not (the operation lands in the folder that was opened).

Functions here block; callers run them in worker threads. Each opens and closes its own
descriptors, so nothing is shared between threads or kept across calls.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Sequence

from cloudzarr.errors import InvalidKeyError, StoreError

__all__ = [
    "DIR_FLAGS",
    "FILE_FLAGS",
    "ValueAboveError",
    "close_all",
    "list_folder",
    "lstat_at",
    "open_chain",
    "open_folder",
    "remove_tree_at",
    "walk_keys",
]

#: Flags opening a folder below the root: never through a link, never inherited by children.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Flags opening a value for reading. ``O_NONBLOCK`` keeps a FIFO planted in the folder from
#: blocking the open forever (it is then refused as not a regular file).
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

_MISSING = (FileNotFoundError, NotADirectoryError)


class ValueAboveError(StoreError):
    """A folder of a key is a value (a file), so the key cannot be written."""


def link_refused(key: str, name: str, root: str) -> InvalidKeyError:
    """The error for a key whose path meets a symbolic link at ``name``."""
    return InvalidKeyError(
        f"store key {key!r} meets a symbolic link at {name!r} under the store root {root!r}; "
        "links below the root are never followed, so nothing outside the store root is touched"
    )


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in the folder ``dir_fd``; None if missing."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except _MISSING:
        return None


def _open_root(root: str, create: bool) -> int | None:
    # The root itself may be a link (the user chose it); only what lies below it is checked.
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except _MISSING:
        if not create:
            return None
    os.makedirs(root, exist_ok=True)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_child(fd: int, name: str, *, key: str, where: str, root: str, create: bool) -> int | None:
    """Open folder ``name`` under ``fd`` (creating it if asked); None if it is missing."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            return None
    except OSError as exc:
        # Linux answers ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW, BSDs ELOOP.
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        st = lstat_at(fd, name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise link_refused(key, where, root) from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            # A folder again (swapped back between our open and lstat): a reader may call it
            # missing, as if it had come a moment later; a writer starts over.
            if not create:
                return None
            raise FileNotFoundError(
                errno.ENOENT, "folder swapped while opening it", where
            ) from None
        if st is None:
            if not create:
                return None
            # Gone between our open and lstat: create it below.
        elif not create:
            return None  # a value: nothing lies below it
        else:
            raise ValueAboveError(f"cannot write key {key!r}: {where!r} is a value") from None
    with contextlib.suppress(FileExistsError):
        # A FileNotFoundError here means our own folder was removed meanwhile (a delete_dir
        # pruning it): the caller starts over from the root.
        os.mkdir(name, 0o777, dir_fd=fd)
    return _open_child(fd, name, key=key, where=where, root=root, create=False) or _vanished(name)


def _vanished(name: str) -> int:
    raise FileNotFoundError(errno.ENOENT, "folder removed while it was being created", name)


def open_chain(root: str, parts: Sequence[str], key: str, *, create: bool) -> list[int] | None:
    """Descriptors of the root and of each folder ``parts`` below it, in order.

    Returns None if a folder is missing (or is a value) and ``create`` is false. The caller
    closes every descriptor (:func:`close_all`).

    Raises
    ------
    InvalidKeyError
        A folder of the key is a symbolic link.
    ValueAboveError
        ``create`` is true and a folder of the key is a value.
    FileNotFoundError
        ``create`` is true and a concurrent delete removed a folder as it was made (start over).
    """
    fd = _open_root(root, create)
    if fd is None:
        return None
    chain = [fd]
    try:
        for i, name in enumerate(parts):
            child = _open_child(
                fd, name, key=key, where="/".join(parts[: i + 1]), root=root, create=create
            )
            if child is None:
                close_all(chain)
                return None
            chain.append(child)
            fd = child
    except BaseException:
        close_all(chain)
        raise
    return chain


def open_folder(root: str, parts: Sequence[str], key: str, *, create: bool) -> int | None:
    """The descriptor of the folder ``parts`` below ``root`` (see :func:`open_chain`)."""
    chain = open_chain(root, parts, key, create=create)
    if chain is None:
        return None
    close_all(chain[:-1])
    return chain[-1]


def close_all(fds: Sequence[int]) -> None:
    """Close every descriptor of ``fds``."""
    for fd in fds:
        os.close(fd)


def _entries(fd: int) -> list[os.DirEntry[str]]:
    # scandir of a descriptor works on a duplicate; entries' types come from the directory
    # itself (d_type, else fstatat relative to it), never by following a link.
    with os.scandir(fd) as it:
        return sorted(it, key=lambda e: e.name)


def list_folder(fd: int, temp_prefix: str) -> list[str]:
    """Names of the values and sub-folders directly in folder ``fd`` (links and temp files
    left out), in name order."""
    return [
        e.name
        for e in _entries(fd)
        if e.is_dir(follow_symlinks=False)
        or (e.is_file(follow_symlinks=False) and not e.name.startswith(temp_prefix))
    ]


def walk_keys(fd: int, prefix: str, temp_prefix: str) -> Iterator[str]:
    """Every key below folder ``fd`` (whose key prefix is ``prefix``), depth first, in name
    order. Sub-folders are opened relative to ``fd`` without following links; ``fd`` is not
    closed here."""
    for entry in _entries(fd):
        key = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_dir(follow_symlinks=False):
            try:
                sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
            except _MISSING:
                continue  # removed, or swapped for a link, since the listing: not a folder now
            try:
                yield from walk_keys(sub, key, temp_prefix)
            finally:
                os.close(sub)
        elif entry.is_file(follow_symlinks=False) and not entry.name.startswith(temp_prefix):
            yield key


def _unlink_at(fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=fd)


def _rmdir_at(fd: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.ENOTDIR):
            raise


def remove_tree_at(fd: int, name: str | None) -> None:
    """Remove folder ``name`` in folder ``fd`` and everything below it (``name=None``: empty
    ``fd`` itself). Links are removed, never followed.

    Like ``delete_dir`` on an object store it removes what is there now: a value that a
    concurrent writer adds meanwhile survives, with the folders holding it.
    """
    # Depth-first without recursion, so a folder deeper than Python's recursion limit is no
    # obstacle; each level holds one descriptor and its pending entries until it is emptied.
    if name is None:
        top, parent = os.dup(fd), -1
    else:
        try:
            top, parent = os.open(name, DIR_FLAGS, dir_fd=fd), fd
        except _MISSING:
            return
    try:
        first = iter(_entries(top))
    except BaseException:
        os.close(top)
        raise
    stack = [(top, parent, name or "", first)]
    try:
        while stack:
            cur, parent, folder, pending = stack[-1]
            for entry in pending:
                if entry.is_dir(follow_symlinks=False):
                    try:
                        sub = os.open(entry.name, DIR_FLAGS, dir_fd=cur)
                    except _MISSING:
                        _unlink_at(cur, entry.name)  # swapped for a link or a value meanwhile
                        continue
                    try:
                        stack.append((sub, cur, entry.name, iter(_entries(sub))))
                    except BaseException:
                        os.close(sub)
                        raise
                    break
                _unlink_at(cur, entry.name)
            else:
                stack.pop()
                os.close(cur)
                if parent >= 0:
                    _rmdir_at(parent, folder)
    finally:
        close_all([level[0] for level in stack])
