"""The shape shared by the bucket stores (S3, GCS, Azure): a bucket, a prefix, adlfs/s3fs/gcsfs
style ``storage_options``, and a URL of the form ``scheme://bucket/prefix``.

Each cloud store talks to its service through its own SDK session (so every operation costs the
fewest requests the cloud allows); this base only holds what they have in common, so construction,
``from_url``, equality, pickling and error locations behave the same on every cloud.
"""

from __future__ import annotations

import contextlib
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from cloudzarr.errors import AmbiguousWriteError, InvalidStoreURLError, StoreError
from cloudzarr.storage.base import Store
from cloudzarr.storage.fsspec import FsspecStore
from cloudzarr.storage.keys import join_key, normalize_prefix

#: HTTP attempts of the request being traced in this task (see :func:`count_attempts`).
_ATTEMPTS: ContextVar[list[int] | None] = ContextVar("cloudzarr_http_attempts", default=None)


@contextlib.contextmanager
def count_attempts() -> Iterator[list[int]]:
    """Count the HTTP attempts the SDK sends inside the block (its own retries included).

    Each cloud store's request-counting hook calls :func:`note_attempt`; the hooks run in the
    task that sent the request, so concurrent requests never see each other's attempts.
    """
    box = [0]
    token = _ATTEMPTS.set(box)
    try:
        yield box
    finally:
        _ATTEMPTS.reset(token)


def note_attempt() -> None:
    """Record one HTTP attempt for an enclosing :func:`count_attempts`, if any."""
    box = _ATTEMPTS.get()
    if box is not None:
        box[0] += 1


class CloudStore(FsspecStore):
    """Base of the stores rooted at ``bucket/prefix`` in a cloud object store.

    Parameters
    ----------
    bucket
        The bucket (Azure: container) name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        The fsspec backend's keyword arguments, as users know them.
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`.
    """

    #: The scheme of :attr:`url` (``"s3"``, ``"gs"``, ``"az"``).
    scheme: ClassVar[str]
    #: The cloud's name in messages (``"S3"``, ``"GCS"``, ``"Azure"``).
    cloud_name: ClassVar[str]
    #: What the cloud calls a bucket; also the constructor's first parameter name.
    bucket_word: ClassVar[str] = "bucket"
    counts_requests_per_operation = False
    supports_bulk_delete = True
    share_when_unpickled = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise StoreError(f"invalid {self.cloud_name} {self.bucket_word} name {bucket!r}")
        # FsspecStore.__init__ wants a filesystem to copy; a cloud store opens its own session
        # per event loop instead (see ``_open_filesystem``), so only the shared state is set.
        Store.__init__(self, read_only=read_only, concurrency=concurrency)
        self._bucket = bucket
        self._prefix = normalize_prefix(prefix)
        self._options = dict(storage_options or {})
        self._template = None
        self._root = self._path = join_key(bucket, self._prefix)
        self._protocol = self.scheme
        self._storage_options = self._options
        self._is_async = True
        self._strategy = "native"
        self._loop_fs = weakref.WeakKeyDictionary()

    @classmethod
    def split_url(cls, url: str) -> tuple[str, str]:
        """Split ``scheme://bucket/prefix`` into ``(bucket, prefix)``."""
        rest = url.split("://", 1)[1] if "://" in url else url
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise InvalidStoreURLError(f"no {cls.bucket_word} in {cls.cloud_name} URL {url!r}")
        return bucket, normalize_prefix(prefix)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> Self:
        """Open the store at ``scheme://bucket/prefix``.

        Parameters
        ----------
        url
            The bucket and optional prefix, in any of the class's ``url_schemes``.
        storage_options
            The backend's keyword arguments (credentials, ``endpoint_url``...).
        read_only, concurrency
            As for the constructor.
        """
        bucket, prefix = cls.split_url(url)
        return cls(
            bucket,
            prefix,
            storage_options=storage_options,
            read_only=read_only,
            concurrency=concurrency,
        )

    def _config(self) -> dict[str, Any]:
        return {
            self.bucket_word: self._bucket,
            "prefix": self._prefix,
            "storage_options": self._options,
        }

    @property
    def url(self) -> str:
        """``scheme://bucket/prefix`` (never credentials)."""
        return f"{self.scheme}://{self._root}"

    def _key(self, key: str) -> str:
        """The object name of a store key inside the bucket."""
        return join_key(self._prefix, key)

    def _where(self, key: str) -> str:
        """The URL of ``key`` for error messages (the store's URL when ``key`` is empty)."""
        return f"{self.scheme}://{self._bucket}/{self._key(key)}" if key else self.url

    async def _settle_refused_retry(self, key: str, value: bytes, attempts: int) -> bool:
        """Decide a conditional write the service refused (HTTP 412) after ``attempts`` tries.

        One attempt: the refusal is definitive (False). More than one means the SDK sent the
        request again, maybe after the first one was applied and its response lost; then the
        key is read: holding exactly ``value`` counts as written (True), anything else is
        unknowable and raises :class:`~cloudzarr.errors.AmbiguousWriteError`.
        """
        if attempts <= 1:
            return False
        current = await self._get(key, None)
        if current == value:
            return True
        raise AmbiguousWriteError(
            f"conditional write of {self._where(key)} was retried by the client after a lost "
            "response and the key now holds another value: whether it was applied is unknown"
        )

    # --- listings --------------------------------------------------------------------------

    @abstractmethod
    def _object_pages(
        self, prefix: str, *, delimiter: bool
    ) -> AsyncIterator[tuple[list[str], list[str]]]:
        """Yield ``(keys, child_prefixes)`` per listing request, relative to the store root.

        With ``delimiter`` the listing is one level deep and child folders come back as
        ``child/`` prefixes (in either list).
        """

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        async for keys, _ in self._object_pages(prefix, delimiter=False):
            # A "folder marker" object (key ending in "/") is not a key.
            page = [k for k in keys if k and not k.endswith("/")]
            if page:
                yield page

    async def _list_dir_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        skip = len(prefix) + 1 if prefix else 0
        seen: set[str] = set()  # a key "a" and keys under "a/" both name the child "a"
        async for keys, prefixes in self._object_pages(prefix, delimiter=True):
            names = {n[skip:].rstrip("/") for n in (*keys, *prefixes)}
            page = sorted(n for n in names if n and n not in seen)
            seen.update(page)
            if page:
                yield page
