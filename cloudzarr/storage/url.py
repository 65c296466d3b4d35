"""``open_store``: one entry point from a URL (or path, or store) to a :class:`Store`.

=========================================  ==============================================
URL                                        Store
=========================================  ==============================================
``memory://``                              a new, empty :class:`MemoryStore`
``memory://NAME``                          the process-wide :class:`MemoryStore` ``NAME``
plain path, ``~/path``, ``file://PATH``    :class:`LocalStore`
``s3://``, ``s3a://``                      ``cloudzarr.storage.s3.S3Store`` (extra ``s3``)
``gs://``, ``gcs://``                      ``cloudzarr.storage.gcs.GCSStore`` (extra ``gcs``)
``az://``, ``abfs://``, ``abfss://``       ``cloudzarr.storage.azure.AzureStore`` (extra ``azure``)
any other fsspec protocol or chained URL   ``cloudzarr.storage.fsspec.FsspecStore``
=========================================  ==============================================

The cloud and fsspec stores are imported only when their URL is opened, so ``import cloudzarr``
does not pull in s3fs, gcsfs or adlfs.
"""

from __future__ import annotations

import importlib
import numbers
import os
import re
import threading
from collections.abc import Mapping
from typing import Any, Protocol, cast

from cloudzarr.errors import InvalidArgumentError, InvalidStoreURLError, UnsupportedError
from cloudzarr.storage.base import Store
from cloudzarr.storage.local import LocalStore
from cloudzarr.storage.memory import MemoryStore


class _FromURL(Protocol):
    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None,
        read_only: bool,
        concurrency: int | None,
        **timeouts: Any,
    ) -> Store: ...


# protocol -> (module, class, the pip extra that brings its dependencies)
_DEDICATED: dict[str, tuple[str, str, str]] = {
    "s3": ("cloudzarr.storage.s3", "S3Store", "s3"),
    "s3a": ("cloudzarr.storage.s3", "S3Store", "s3"),
    "gs": ("cloudzarr.storage.gcs", "GCSStore", "gcs"),
    "gcs": ("cloudzarr.storage.gcs", "GCSStore", "gcs"),
    "az": ("cloudzarr.storage.azure", "AzureStore", "azure"),
    "abfs": ("cloudzarr.storage.azure", "AzureStore", "azure"),
    "abfss": ("cloudzarr.storage.azure", "AzureStore", "azure"),
}
_FSSPEC = ("cloudzarr.storage.fsspec", "FsspecStore", "cloud")

_named_memory: dict[str, dict[str, bytes]] = {}
_named_memory_lock = threading.Lock()


def open_store(
    url: str | os.PathLike[str] | Store,
    *,
    storage_options: Mapping[str, Any] | None = None,
    read_only: bool = False,
    concurrency: int | None = None,
    connect_timeout: float | None = None,
    request_timeout: float | None = None,
) -> Store:
    """Open the store a URL names.

    Parameters
    ----------
    url
        A URL (``memory://``, ``file://``, ``s3://bucket/prefix``, ``gs://``, ``az://``, any
        fsspec protocol), a local path, or a :class:`Store`.
    storage_options
        Options for the backend (credentials, endpoint...): passed to the cloud and fsspec
        stores; refused for memory and local stores, which take none.
    read_only
        Open the store read-only. A store passed in is returned as a read-only view when this
        is True, and unchanged when it is False (a read-only store is never made writable).
    concurrency
        The most requests the store sends at once (see :class:`Store`). Not accepted with a
        store passed in, whose limiter is already made.
    connect_timeout, request_timeout
        Seconds to connect and for one request attempt (body included) of a cloud store
        (S3, GCS, Azure); default the config keys ``storage.connect_timeout`` (5 s) and
        ``storage.request_timeout`` (30 s). Refused for other stores.

    Returns
    -------
    Store

    Raises
    ------
    InvalidArgumentError
        If ``concurrency`` is not a positive integer.
    InvalidStoreURLError
        If the URL's protocol is unknown, its query string carries a credential (``sig=``,
        ``token=``...), or options are given that the store does not take.
    UnsupportedError
        If the store for the URL needs an extra that is not installed (``pip install
        "cloudzarr[s3]"``...).

    Notes
    -----
    ``memory://NAME`` names a dict shared by the whole process: opening it twice gives two
    equal stores over the same keys, which lets the sync API, the CLI and a test share data
    by name. It is never freed; :func:`forget_memory_store` drops one. A bare ``memory://``
    always gives a new, private store.
    """
    if concurrency is not None and (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, numbers.Integral)
        or concurrency < 1
    ):
        raise InvalidArgumentError(
            f"concurrency must be an integer of at least 1 (or None), got {concurrency!r}"
        )
    if isinstance(url, Store):
        if storage_options:
            raise InvalidStoreURLError(
                f"storage_options were given with an already open store {url!r}; "
                "they only apply when opening a URL"
            )
        if concurrency is not None:
            raise InvalidStoreURLError(
                f"concurrency was given with an already open store {url!r}; "
                "set it when the store is made"
            )
        return url.with_read_only(True) if read_only and not url.read_only else url

    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str):
        raise InvalidStoreURLError(
            f"cannot open a store from {type(url).__name__}; give a URL, a path or a Store"
        )

    protocol = _protocol(url)
    timeouts = {"connect_timeout": connect_timeout, "request_timeout": request_timeout}
    timeouts = {k: v for k, v in timeouts.items() if v is not None}
    if timeouts and protocol not in _DEDICATED:
        raise InvalidStoreURLError(
            f"{', '.join(timeouts)} apply to the S3, GCS and Azure stores, not to {url!r}"
        )
    if protocol is None and url[:5].lower() == "file:":
        protocol = "file"  # RFC 8089's file:/abs/path, with no "//"
    elif protocol is None:
        _refuse_mistyped_url(url)
    if protocol is None or protocol in ("file", "local"):
        _refuse_options(url, storage_options)
        path = _after_scheme(url) if protocol is not None else url
        if path == "":
            raise InvalidStoreURLError(f"store URL {url!r} names no folder")
        return LocalStore(path, read_only=read_only, concurrency=concurrency)
    if protocol == "memory":
        _refuse_options(url, storage_options)
        name = url.split("://", 1)[1].strip("/")
        data = _memory_dict(name) if name else None
        return MemoryStore(data, read_only=read_only, concurrency=concurrency)

    _refuse_credentials_in_url(url)
    module, cls_name, extra = _DEDICATED.get(protocol, _FSSPEC)
    if (module, cls_name, extra) == _FSSPEC:
        _check_fsspec_protocol(url, protocol)
    elif not _after_scheme(url).split("/", 1)[0]:
        word = "container" if extra == "azure" else "bucket"
        raise InvalidStoreURLError(
            f"store URL {url!r} names no {word}; write {protocol}://{word.upper()}/PREFIX"
        )
    store_cls = _load(module, cls_name, extra, url)
    try:
        return store_cls.from_url(
            url,
            storage_options=storage_options,
            read_only=read_only,
            concurrency=concurrency,
            **timeouts,
        )
    except ImportError as exc:
        # fsspec knows the protocol but its implementation needs a package (sftp: paramiko...).
        raise UnsupportedError(
            f"opening {url!r} needs a package that is not installed: {exc}"
        ) from None


def forget_memory_store(name: str) -> None:
    """Drop the process-wide dict behind ``memory://NAME`` (stores already open keep it)."""
    with _named_memory_lock:
        _named_memory.pop(name.strip("/"), None)


def _memory_dict(name: str) -> dict[str, bytes]:
    with _named_memory_lock:
        return _named_memory.setdefault(name, {})


def _protocol(url: str) -> str | None:
    """The URL's (first) protocol, lower-cased, or None for a plain path."""
    head = url.split("::", 1)[0] if "::" in url else url
    if "://" not in head:
        # "simplecache::s3://..." chains name their first protocol before "::".
        return head.lower() if "::" in url else None
    scheme = head.split("://", 1)[0]
    if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        return None
    return scheme.lower()


def _after_scheme(url: str) -> str:
    """What follows ``scheme://`` (or ``file:``)."""
    if "://" in url:
        return url.split("://", 1)[1]
    return url.split(":", 1)[1]


#: Query parameters that carry credentials (SAS signatures, signed URLs, tokens, keys).
_SECRET_QUERY = re.compile(
    r"(?:^|[?&;])(?:sig|signature|x-amz-signature|x-goog-signature|x-amz-credential|"
    r"x-amz-security-token|secret|token|key|access_token|sv|se|sp|password|"
    r"credential)=",
    re.IGNORECASE,
)


def _refuse_credentials_in_url(url: str) -> None:
    """Refuse ``scheme://user:password@host/...`` and a query string carrying a credential
    (``?sig=...``, ``?token=...``): the URL is shown in reprs and error messages, and its
    query would otherwise become part of the prefix and of object names. The message shows
    the URL redacted."""
    base, question, query = url.partition("?")
    if question and _SECRET_QUERY.search("?" + query):
        raise InvalidStoreURLError(
            f"store URL {base + '?***'!r} carries a credential in its query string; pass "
            "credentials in storage_options instead (they never appear in reprs or messages)"
        )
    for part in url.split("::"):
        if "://" not in part:
            continue
        scheme, rest = part.split("://", 1)
        authority = rest.split("/", 1)[0]
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            shown = url.replace(part, f"{scheme}://{user}:***@{host}/...")
            raise InvalidStoreURLError(
                f"store URL {shown!r} carries a password; pass credentials in storage_options "
                "instead (they never appear in reprs or error messages)"
            )


def _refuse_mistyped_url(path: str) -> None:
    """Refuse a "path" that is a store URL missing a slash (``s3:/bucket``, ``memory:name``).

    Taken as a local path it would silently create a folder called ``s3:`` in the working
    directory. A one-letter scheme is a Windows drive (``C:/data``) and stays a path.
    """
    scheme, sep, rest = path.partition(":")
    if not sep or len(scheme) < 2 or not all(c.isalnum() or c in "+-." for c in scheme):
        return
    scheme = scheme.lower()
    known = scheme in _DEDICATED or scheme == "memory"
    if not known:
        try:
            import fsspec
        except ModuleNotFoundError:  # pragma: no cover - fsspec is a core dependency
            return
        known = scheme in fsspec.available_protocols()
    if known:
        raise InvalidStoreURLError(
            f"store URL {path!r} lacks the '//' after {scheme + ':'!r}; write "
            f"{scheme}://{rest.lstrip('/')} (or ./{path} for a local folder of that name)"
        )


def _refuse_options(url: str, storage_options: Mapping[str, Any] | None) -> None:
    if storage_options:
        keys = ", ".join(sorted(map(str, storage_options)))
        raise InvalidStoreURLError(
            f"storage_options ({keys}) do not apply to {url!r}: memory and local stores take none"
        )


def _check_fsspec_protocol(url: str, protocol: str) -> None:
    try:
        import fsspec
    except ModuleNotFoundError as exc:  # pragma: no cover - fsspec is a core dependency
        raise UnsupportedError(f"opening {url!r} needs fsspec: pip install fsspec") from exc
    if protocol not in fsspec.available_protocols():
        raise InvalidStoreURLError(
            f"store URL {url!r} has the unknown protocol {protocol!r} "
            "(neither cloudzarr nor fsspec knows it)"
        )


def _load(module: str, cls_name: str, extra: str, url: str) -> type[_FromURL]:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        raise UnsupportedError(
            f"opening {url!r} needs {missing!r}, which is not installed: "
            f'pip install "cloudzarr[{extra}]"'
        ) from exc
    return cast(type[_FromURL], getattr(mod, cls_name))
