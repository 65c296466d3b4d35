"""A persistent local-disk cache of objects, for :class:`~cloudzarr.storage.cache.CacheStore`.

Repeated reads of a remote dataset across processes (a notebook restarted, a batch of jobs on
one machine) are served from files in a directory. Layout: one file per cached object, named by
the SHA-256 of the store's identity and the key (so no credential or key ever appears in a file
name), holding a header and the bytes; plus a small *generation* file per key and one per store.

Never stale after a write through cloudzarr, in any process using the same directory: an entry
is valid only while the generation it was filled under is still current. A write through a
``CacheStore`` with this cache replaces the key's generation with a fresh random token (and a
``delete_dir`` the store's), so entries filled before it, including by a read that raced it,
no longer match. Files are replaced atomically (written aside, then renamed).

Bounded: when the files exceed ``max_bytes``, the least recently used (by modification time,
refreshed on each hit) are deleted down to 90 % of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cloudzarr.errors import InvalidArgumentError

__all__ = ["DiskCache"]

_MAGIC = b"CZC1"


#: What both caches answer for a key they do not hold (None means "known missing").
MISSING: Any = object()


class DiskCache:
    """Cached objects in ``directory``, at most ``max_bytes`` of them.

    Parameters
    ----------
    directory
        Where the files live (created if needed). Several processes may share it.
    max_bytes
        The most bytes of files kept.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = 2**30) -> None:
        if max_bytes <= 0:
            raise InvalidArgumentError("DiskCache: max_bytes must be > 0")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._nbytes = sum(p.stat().st_size for p in self._data_files())

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], state["max_bytes"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r}, max_bytes={self.max_bytes})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DiskCache):
            return NotImplemented
        return self.directory == other.directory and self.max_bytes == other.max_bytes

    def __hash__(self) -> int:
        return hash((self.directory, self.max_bytes))

    # --- paths and generations -------------------------------------------------------------

    def _name(self, space: str, key: str | None) -> str:
        text = space if key is None else f"{space}\0{key}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / name[:2] / f"{name}{suffix}"

    def _read_token(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return b"0"

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(exist_ok=True)
        aside = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
        aside.write_bytes(data)
        os.replace(aside, path)

    def token(self, space: str, key: str) -> bytes:
        """The generation of ``key`` now (read before fetching what :meth:`put` stores)."""
        space_token = self._read_token(self._path(self._name(space, None), ".g"))
        return space_token + b":" + self._read_token(self._path(self._name(space, key), ".g"))

    # --- entries ---------------------------------------------------------------------------

    def lookup(self, space: str, key: str) -> Any:
        """The cached bytes, None if cached as missing, else the "not cached" marker."""
        path = self._path(self._name(space, key), ".d")
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return MISSING
        if not blob.startswith(_MAGIC) or len(blob) < 9:
            return MISSING
        size = int.from_bytes(blob[4:8], "little")
        stored_token, flag = blob[8 : 8 + size], blob[8 + size : 9 + size]
        if stored_token != self.token(space, key):
            return MISSING
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)  # recently used: evicted last
        return None if flag == b"0" else blob[9 + size :]

    def put(self, space: str, key: str, token: bytes, value: bytes | None) -> None:
        """Store ``value`` (None: missing) for ``key``, valid while its generation is ``token``."""
        header = _MAGIC + len(token).to_bytes(4, "little") + token
        body = header + (b"0" if value is None else b"1" + value)
        path = self._path(self._name(space, key), ".d")
        try:
            old = path.stat().st_size
        except FileNotFoundError:
            old = 0
        self._write(path, body)
        with self._lock:
            self._nbytes += len(body) - old
            over = self._nbytes > self.max_bytes
        if over:
            self._evict()

    def invalidate(self, space: str, key: str) -> None:
        """Give ``key`` a new generation: entries filled before are no longer served."""
        name = self._name(space, key)
        self._write(self._path(name, ".g"), secrets.token_hex(8).encode())
        self._remove(self._path(name, ".d"))

    def invalidate_prefix(self, space: str, prefix: str) -> None:
        """Invalidate every key of ``space`` (file names do not reveal keys, so all of them)."""
        del prefix
        self._write(self._path(self._name(space, None), ".g"), secrets.token_hex(8).encode())

    def clear(self) -> None:
        """Delete every cached object."""
        for path in self._data_files():
            self._remove(path)

    # --- size ------------------------------------------------------------------------------

    def _data_files(self) -> list[Path]:
        return [p for p in self.directory.glob("??/*.d") if p.is_file()]

    def _remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        with self._lock:
            self._nbytes -= size

    def _evict(self) -> None:
        entries = []
        for path in self._data_files():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime_ns, st.st_size, path))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        with self._lock:
            self._nbytes = total
        target = self.max_bytes * 9 // 10
        for _, _, path in entries:
            if total <= target:
                break
            before = self._nbytes
            self._remove(path)
            total -= before - self._nbytes
