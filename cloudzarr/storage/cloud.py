"""The shape shared by the bucket stores (S3, GCS, Azure): a bucket, a prefix, ``storage_options``
as users know them from s3fs/gcsfs/adlfs, a URL ``scheme://bucket/prefix``, and one
:class:`~cloudzarr.storage.transport.Transport` (timeouts, retries, accounting).

Each cloud contributes how to build its requests and read its answers; construction, option
checking, ``from_url``, equality, pickling (by configuration: no I/O on unpickle), error
locations and the resolution of conditional writes are written here once.

Conditional writes and lost responses
-------------------------------------
A conditional create or swap carries a random *write token* in the object's user metadata.
When the transport had to send it more than once (an earlier attempt's answer was lost: a
reset, a timeout, a 5xx) and the last attempt was refused (412), the earlier attempt may have
been applied: the key is read back once, and holding our token means our write landed (True).
For a create, another token means another writer created the key (False); for a swap, another
token is unknowable (our write may have landed and been replaced) and raises
:class:`~cloudzarr.errors.AmbiguousWriteError`. A refusal on the first attempt is definitive.
"""

from __future__ import annotations

import difflib
import uuid
from abc import abstractmethod
from collections.abc import AsyncIterator, Collection
from typing import Any, ClassVar, Self

from cloudzarr.config import config
from cloudzarr.errors import AmbiguousWriteError, InvalidStoreURLError, StoreError
from cloudzarr.storage.base import Store
from cloudzarr.storage.keys import join_key, normalize_prefix
from cloudzarr.storage.transport import Attempts, Hedging, Timeouts, Transport

#: The user-metadata field holding a conditional write's token (Azure wants an identifier).
TOKEN_FIELD = "cloudzarrtoken"


def new_write_token() -> str:
    """A fresh random write token."""
    return uuid.uuid4().hex


class CloudStore(Store):
    """Base of the stores rooted at ``bucket/prefix`` in a cloud object store.

    Parameters
    ----------
    bucket
        The bucket (Azure: container) name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        The cloud's options, named as s3fs/gcsfs/adlfs name them; an unknown name raises
        :class:`~cloudzarr.errors.InvalidStoreURLError` before any request.
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`.
    connect_timeout, request_timeout
        Seconds to connect, and for one attempt (body included); default the config keys
        ``storage.connect_timeout`` (5 s) and ``storage.request_timeout`` (30 s).
    hedge
        Send a GET still unanswered after the p95 of recent GETs once more (at most 5 % extra
        requests); default the config key ``storage.hedge`` (off).
    """

    #: The scheme of :attr:`url` (``"s3"``, ``"gs"``, ``"az"``).
    scheme: ClassVar[str]
    #: The cloud's name in messages (``"S3"``, ``"GCS"``, ``"Azure"``).
    cloud_name: ClassVar[str]
    #: What the cloud calls a bucket; also the constructor's first parameter name.
    bucket_word: ClassVar[str] = "bucket"
    #: The ``storage_options`` names this cloud accepts.
    option_names: ClassVar[frozenset[str]] = frozenset()
    #: The URL schemes :meth:`from_url` opens.
    url_schemes: ClassVar[tuple[str, ...]] = ()
    counts_requests_per_operation = False
    supports_bulk_delete = True
    supports_atomic_create = True
    supports_compare_and_swap = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        hedge: bool | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise StoreError(f"invalid {self.cloud_name} {self.bucket_word} name {bucket!r}")
        options = dict(storage_options or {})
        check_option_names(options, self.option_names, self.cloud_name)
        super().__init__(read_only=read_only, concurrency=concurrency)
        self._bucket = bucket
        self._prefix = normalize_prefix(prefix)
        self._options = options
        self._root = join_key(bucket, self._prefix)
        self._timeout_args = (connect_timeout, request_timeout)
        self._hedge_arg = hedge
        self.timeouts = Timeouts.resolve(connect_timeout, request_timeout)
        self.transport = self._make_transport()
        enabled = hedge if hedge is not None else bool(config.get("storage.hedge"))
        self.hedging: Hedging | None = Hedging() if enabled else None

    @abstractmethod
    def _make_transport(self) -> Transport:
        """The cloud's transport (its error classification) for this store."""

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
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        hedge: bool | None = None,
    ) -> Self:
        """Open the store at ``scheme://bucket/prefix``.

        Parameters
        ----------
        url
            The bucket and optional prefix, in any of the class's ``url_schemes``.
        storage_options
            The cloud's options (credentials, ``endpoint_url``...).
        read_only, concurrency, connect_timeout, request_timeout, hedge
            As for the constructor.
        """
        bucket, prefix = cls.split_url(url)
        return cls(
            bucket,
            prefix,
            storage_options=storage_options,
            read_only=read_only,
            concurrency=concurrency,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            hedge=hedge,
        )

    def _config(self) -> dict[str, Any]:
        connect, request = self._timeout_args
        return {
            self.bucket_word: self._bucket,
            "prefix": self._prefix,
            "storage_options": self._options,
            "connect_timeout": connect,
            "request_timeout": request,
            "hedge": self._hedge_arg,
        }

    @property
    def url(self) -> str:
        """``scheme://bucket/prefix`` (never credentials)."""
        return f"{self.scheme}://{self._root}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _key(self, key: str) -> str:
        """The object name of a store key inside the bucket."""
        return join_key(self._prefix, key)

    def _where(self, key: str) -> str:
        """The URL of ``key`` for error messages (the store's URL when ``key`` is empty)."""
        return f"{self.scheme}://{self._bucket}/{self._key(key)}" if key else self.url

    # --- conditional writes ----------------------------------------------------------------

    @abstractmethod
    async def _read_token(self, key: str) -> tuple[bool, str | None]:
        """``(exists, write token)`` of ``key`` now (token None: written without one)."""

    async def _resolve_refusal(
        self, key: str, token: str, attempts: Attempts, *, create: bool
    ) -> bool:
        """Decide a conditional write refused (412) on attempt ``attempts.count``.

        See the module docstring: a refusal is definitive (False) unless an earlier attempt may
        have been applied; then the key's write token says whether it landed.
        """
        if not attempts.maybe_applied:
            return False
        exists, current = await self._read_token(key)
        if exists and current == token:
            return True
        if create and exists:
            return False
        raise AmbiguousWriteError(
            f"conditional write of {self._where(key)} was sent {attempts.count} times after lost "
            "responses and the key now holds another writer's value (or none): whether this "
            "write was applied is unknown"
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


def check_option_names(options: dict[str, Any], known: Collection[str], cloud: str) -> None:
    """Refuse an option name ``known`` lacks, suggesting the closest known one."""
    for name in options:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidStoreURLError(
            f"unknown {cloud} storage option {name!r}{hint} (known: {', '.join(sorted(known))})"
        )
