"""A store over any fsspec filesystem (s3fs, gcsfs, adlfs and every other fsspec protocol).

Async filesystems (s3fs, gcsfs, adlfs...) hold an aiohttp session bound to the event loop that
opened it, while a cloudzarr store may be used from the sync API's background loop and from a
user's loop in turn. :class:`FsspecStore` therefore keeps one filesystem instance per event loop,
each built from the same configuration (protocol + storage options), with fsspec's listings cache
turned off so a listing never answers from before a write. Sync filesystems (memory, local...) are
called directly (memory) or on a worker thread (everything else).

Atomic create (``set_if_not_exists``) uses, by filesystem:

- async cloud filesystems (s3, gs/gcs, az/abfs): their ``_pipe_file(mode="create")``, one
  conditional request (``FileExistsError`` means the key existed);
- ``memory``: the check and the write under one process-wide lock; the data lives in this
  process only, so the lock covers every writer;
- ``file``: ``open(path, "xb")`` (``O_CREAT | O_EXCL``), which the kernel makes atomic;
- anything else: no atomic create is known, so ``supports_atomic_create`` is False and
  ``set_if_not_exists`` raises :class:`~cloudzarr.errors.UnsupportedError` rather than faking it
  with exists-then-write.

Compare-and-swap (``get_with_version`` / ``set_if_version``), by filesystem:

- ``memory``: the compare and the write under the same process-wide lock as create; the version
  is a digest of the bytes. Atomic against other conditional writes (plain writes take no lock);
- ``file``: the same protocol as :class:`~cloudzarr.storage.local.LocalStore` (an ``flock`` on the
  key's file, then a rename), atomic between processes on one host; see
  :mod:`cloudzarr.storage.local_cas`;
- anything else, cloud protocols included: fsspec has no conditional replace, so
  ``supports_compare_and_swap`` is False and both raise
  :class:`~cloudzarr.errors.UnsupportedError`. For S3, GCS and Azure use
  :class:`~cloudzarr.storage.s3.S3Store`, :class:`~cloudzarr.storage.gcs.GCSStore` and
  :class:`~cloudzarr.storage.azure.AzureStore` (what ``open_store`` returns for their URLs),
  which use the services' own conditions (ETag, generation).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Self

import fsspec
from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

from cloudzarr.errors import (
    AccessDeniedError,
    CloudzarrError,
    KeyNotFoundError,
    StoreError,
    StoreTimeoutError,
    UnsupportedError,
)
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.fsspec_support import (
    _MEMORY_CREATE_LOCK,
    LOCAL_TEMP_PREFIX,
    _create_strategy,
    _first_protocol,
    _is_async_filesystem,
    _is_temp,
    _local_write,
    _prune_empty_dirs,
    _remove_empty_tree,
)
from cloudzarr.storage.keys import join_key
from cloudzarr.storage.local_cas import read_versioned, replace_if_version
from cloudzarr.storage.versions import content_version

__all__ = ["FsspecStore"]

#: Options that configure how a filesystem instance is made, not where it points; they are
#: chosen per event loop by the store and left out of its configuration.
_INSTANCE_OPTIONS = frozenset(
    {"asynchronous", "loop", "skip_instance_cache", "use_listings_cache", "listings_expiry_time",
     "max_paths"}
)  # fmt: skip

#: Stores that have opened connections, closed at interpreter exit (see _close_at_exit).
_CONNECTED: weakref.WeakSet[FsspecStore] = weakref.WeakSet()


def _close_at_exit() -> None:
    """Close connections still open on running loops (the sync API's background loop).

    atexit runs while daemon threads still run, so their loops can close their sessions;
    without this aiohttp reports "Unclosed client session" at every exit.
    """
    for store in list(_CONNECTED):
        for loop, task in list(store._loop_fs.items()):
            if not loop.is_running() or not task.done() or task.exception() is not None:
                continue
            future = asyncio.run_coroutine_threadsafe(store._close_filesystem(task.result()), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=2)


atexit.register(_close_at_exit)


class FsspecStore(Store):
    """A store over an fsspec filesystem.

    Parameters
    ----------
    fs
        The filesystem (async or sync; an ``AsyncFileSystemWrapper`` is unwrapped). Async
        filesystems are re-created per event loop from ``fs.storage_options``.
    path
        The root of the store inside the filesystem (``"bucket/prefix"``, ``"/tmp/data"``...).
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store` (environment variable
        ``CLOUDZARR_FSSPEC_CONCURRENCY``).

    Notes
    -----
    Two stores are equal when they have one protocol, root and storage options; a store pickles
    as those. The repr shows only the protocol and root, never the storage options (which may
    hold credentials).
    """

    default_concurrency = 64
    concurrency_env = "CLOUDZARR_FSSPEC_CONCURRENCY"
    #: The URL schemes this class opens in :meth:`from_url` (None: any fsspec protocol).
    url_schemes: ClassVar[tuple[str, ...] | None] = None

    def __init__(
        self,
        fs: Any,
        path: str = "",
        *,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(read_only=read_only, concurrency=concurrency)
        if isinstance(fs, AsyncFileSystemWrapper):
            fs = fs.sync_fs
        self._template = fs
        self._path = path
        self._protocol = _first_protocol(fs)
        self._storage_options = {
            k: v for k, v in dict(fs.storage_options).items() if k not in _INSTANCE_OPTIONS
        }
        self._root = fs._strip_protocol(path).rstrip("/") if path else ""
        self._is_async = _is_async_filesystem(fs)
        self._strategy = _create_strategy(fs)
        # An instance attribute: whether create is atomic depends on the filesystem given.
        self.supports_atomic_create = self._strategy != "none"  # type: ignore[misc]
        self.supports_compare_and_swap = self._strategy in ("memory", "local")  # type: ignore[misc]
        self._loop_fs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Any]]
        self._loop_fs = weakref.WeakKeyDictionary()

    # --- construction and configuration ----------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> Self:
        """Open the store at ``url`` (any fsspec URL, ``memory://x``, ``file:///tmp/y``...).

        Parameters
        ----------
        url
            Where the store's root is.
        storage_options
            Passed to the fsspec filesystem as its keyword arguments.
        read_only, concurrency
            As for the constructor.
        """
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        return cls(fs, path, read_only=read_only, concurrency=concurrency)

    def _config(self) -> dict[str, Any]:
        return {"fs": self._template, "path": self._path}

    def _identity(self) -> tuple[Any, ...]:
        return (self._protocol, self._root, sorted(self._storage_options.items(), key=str))

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, FsspecStore)
        return self._identity() == other._identity() and (
            self.read_only,
            self._concurrency_arg,
        ) == (other.read_only, other._concurrency_arg)

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self._protocol, self._root, self.read_only))

    @property
    def url(self) -> str:
        """The store's root as a URL (no credentials)."""
        if "://" in self._root:  # fsspec's http(s) filesystem keeps the whole URL as the path
            return self._root
        root = self._root if self._protocol == "file" else self._root.lstrip("/")
        return f"{self._protocol}://{root}"

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"{type(self).__name__}({self.url!r}{ro})"

    # --- connections -----------------------------------------------------------------------

    async def _filesystem(self) -> Any:
        """The filesystem instance for the running event loop (opened on first use)."""
        if not self._is_async:
            return self._template
        loop = asyncio.get_running_loop()
        task = self._loop_fs.get(loop)
        if task is None or (task.done() and task.exception() is not None):
            # Forget connections of loops that have closed (their sessions cannot be closed
            # from here; their finalizers release the sockets).
            for old in [lp for lp in self._loop_fs if lp.is_closed()]:
                del self._loop_fs[old]
            # One task per loop, so concurrent first callers share one connection.
            task = loop.create_task(self._open_filesystem())
            self._loop_fs[loop] = task
            _CONNECTED.add(self)
        return await asyncio.shield(task)

    async def _open_filesystem(self) -> Any:
        """Make a new async filesystem for the running loop, with the listings cache off."""
        fs = type(self._template)(
            **self._storage_options,
            asynchronous=True,
            skip_instance_cache=True,
            use_listings_cache=False,
            loop=asyncio.get_running_loop(),
        )
        set_session = getattr(fs, "set_session", None)
        if set_session is not None:
            await set_session()
        return fs

    async def _close_filesystem(self, fs: Any) -> None:
        """Close one filesystem made by :meth:`_open_filesystem` (on its own loop)."""
        creator = getattr(fs, "_s3creator", None)  # s3fs keeps its aiobotocore client here
        if creator is not None:
            await creator.__aexit__(None, None, None)
            return
        session = getattr(fs, "_session", None)  # gcsfs, HTTPFileSystem: an aiohttp session
        if session is not None and hasattr(session, "close"):
            result = session.close()
            if hasattr(result, "__await__"):
                await result

    async def close(self) -> None:
        """Close every connection this store opened; it reconnects on next use."""
        current = asyncio.get_running_loop()
        entries = list(self._loop_fs.items())
        self._loop_fs.clear()
        for loop, task in entries:
            if not task.done() or task.exception() is not None:
                continue
            fs = task.result()
            with contextlib.suppress(Exception):
                if loop is current:
                    await self._close_filesystem(fs)
                elif loop.is_running():
                    future = asyncio.run_coroutine_threadsafe(self._close_filesystem(fs), loop)
                    await asyncio.wrap_future(future)

    # --- paths -----------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        return f"{self._root}/{key}" if self._root else key

    def _dir(self, prefix: str) -> str:
        return self._full(prefix) if prefix else self._root

    def _relative(self, name: str, base: str) -> str | None:
        name = self._template._strip_protocol(name).rstrip("/")
        base = self._template._strip_protocol(base).rstrip("/") if base else ""
        if not base:
            return name.lstrip("/") or None
        if not name.startswith(base + "/"):
            return None
        return name[len(base) + 1 :] or None

    # --- calling the filesystem ------------------------------------------------------------

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` of the filesystem: awaited if async, inline for memory, else threaded."""
        fs = await self._filesystem()
        if self._is_async:
            return await getattr(fs, "_" + method)(*args, **kwargs)
        func: Callable[..., Any] = getattr(fs, method)
        if self._strategy == "memory":
            return func(*args, **kwargs)
        return await asyncio.to_thread(func, *args, **kwargs)

    def _error(self, exc: BaseException, key: str) -> BaseException:
        """Map a filesystem exception to a cloudzarr error naming the key."""
        where = f"{self.url}/{key}" if key else self.url
        if isinstance(exc, CloudzarrError):
            return exc
        if isinstance(exc, PermissionError):
            return AccessDeniedError(f"access denied to {where}")
        if isinstance(exc, TimeoutError):
            return StoreTimeoutError(f"request for {where} timed out")
        return StoreError(f"{type(exc).__name__} on {where}: {exc}")

    # --- hooks -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        path = self._full(key)
        start: int | None
        end: int | None
        match byte_range:
            case None:
                start, end = None, None
            case RangeByteRequest(s, e):
                start, end = s, e
            case OffsetByteRequest(o):
                start, end = o, None
            case SuffixByteRequest(n):
                start, end = -n, None
        if isinstance(byte_range, SuffixByteRequest | RangeByteRequest) and start == (end or 0):
            # An empty range (suffix 0 or [s, s)) has no HTTP form; only existence matters.
            return b"" if await self._exists(key) else None
        try:
            data = await self._call("cat_file", path, start=start, end=end)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except Exception as exc:
            raise self._error(exc, key) from None
        return bytes(data)

    async def _exists(self, key: str) -> bool:
        try:
            return bool(await self._call("isfile", self._full(key)))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except Exception as exc:
            raise self._error(exc, key) from None

    async def _getsize(self, key: str) -> int:
        try:
            info = await self._call("info", self._full(key))
        except (FileNotFoundError, NotADirectoryError):
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}") from None
        except Exception as exc:
            raise self._error(exc, key) from None
        if info.get("type") != "file":
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}")
        return int(info["size"])

    async def _set(self, key: str, value: bytes) -> None:
        path = self._full(key)
        try:
            if self._strategy == "local":
                await asyncio.to_thread(_local_write, self._template, path, value, exclusive=False)
            else:
                try:
                    await self._call("pipe_file", path, value)
                except FileNotFoundError:
                    # A folder-based filesystem without auto_mkdir: make the parents, once.
                    await self._call("makedirs", self._template._parent(path), exist_ok=True)
                    await self._call("pipe_file", path, value)
        except Exception as exc:
            raise self._error(exc, key) from None

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        path = self._full(key)
        try:
            match self._strategy:
                case "native":
                    await self._call("pipe_file", path, value, mode="create")
                case "memory":
                    with _MEMORY_CREATE_LOCK:
                        self._template.pipe_file(path, value, mode="create")
                case "local":
                    await asyncio.to_thread(
                        _local_write, self._template, path, value, exclusive=True
                    )
                case _:
                    raise UnsupportedError(
                        f"{self.url} ({self._protocol}) has no atomic create; cannot create "
                        f"{key!r} only if absent"
                    )
        except FileExistsError:
            return False
        except Exception as exc:
            raise self._error(exc, key) from None
        return True

    def _no_cas(self, key: str) -> UnsupportedError:
        return UnsupportedError(
            f"{self.url} ({self._protocol}) has no atomic conditional replace, so {key!r} cannot "
            "be compared-and-swapped; use S3Store, GCSStore or AzureStore for cloud buckets"
        )

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        path = self._full(key)
        if self._strategy == "local":
            try:
                return await asyncio.to_thread(read_versioned, path)
            except Exception as exc:
                raise self._error(exc, key) from None
        if self._strategy != "memory":
            raise self._no_cas(key)
        value = await self._get(key, None)
        return None if value is None else (value, content_version(value))

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        path = self._full(key)
        try:
            match self._strategy:
                case "local":
                    return await asyncio.to_thread(
                        replace_if_version, path, value, version, LOCAL_TEMP_PREFIX
                    )
                case "memory":
                    with _MEMORY_CREATE_LOCK:
                        try:
                            current = self._template.cat_file(path)
                        except (FileNotFoundError, IsADirectoryError):
                            return False
                        if content_version(bytes(current)) != version:
                            return False
                        self._template.pipe_file(path, value)
                        return True
                case _:
                    raise self._no_cas(key)
        except Exception as exc:
            raise self._error(exc, key) from None

    async def _delete(self, key: str) -> None:
        path = self._full(key)
        try:
            await self._call("rm_file", path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except Exception as exc:
            raise self._error(exc, key) from None
        if self._strategy == "local":
            await asyncio.to_thread(_prune_empty_dirs, os.path.dirname(path), self._root)

    async def _delete_dir(self, prefix: str) -> None:
        files: list[str] = []
        async for page in self._list_prefix_pages(prefix):
            files.extend(self._full(k) for k in page)
        try:
            if files:
                await self._call("rm", files)
            if self._strategy == "local":
                await asyncio.to_thread(_remove_empty_tree, self._dir(prefix), self._root)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error(exc, prefix) from None

    def _forget_listings(self, base: str) -> None:
        # Async filesystems are opened with the listings cache off; a sync one handed in may
        # cache (its dircache), so drop what it holds for this folder before listing it.
        if not self._is_async and self._template is not None:
            self._template.invalidate_cache(base or None)

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        base = self._dir(prefix)
        self._forget_listings(base)
        try:
            found = await self._call("find", base or self._template.root_marker)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error(exc, prefix) from None
        rels = (self._relative(f, base) for f in found)
        keys = sorted(join_key(prefix, r) for r in rels if r is not None and not _is_temp(r))
        if keys:
            yield keys

    async def _list_dir_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        base = self._dir(prefix)
        self._forget_listings(base)
        try:
            names = await self._call("ls", base or (self._template.root_marker or ""), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return
        except Exception as exc:
            raise self._error(exc, prefix) from None
        children = sorted(
            {
                c.split("/", 1)[0]
                for c in (self._relative(n, base) for n in names)
                if c and not _is_temp(c)
            }
        )
        if children:
            yield children
