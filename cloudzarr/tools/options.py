"""Checking ``storage_options`` against what a cloud backend takes, before any request.

A mistyped option (``endpoint=`` for ``endpoint_url=``) must fail before any request, as a usage
error naming the closest right name, not deep inside the SDK. The names a cloud store accepts
are its own declaration (``option_names`` of the store class, the list the store itself checks
when it is made); for a store that declares none, they are read from the backend filesystem
class's signature (s3fs, gcsfs, adlfs and the fsspec base classes they build on).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from cloudzarr.errors import InvalidArgumentError

_S3 = ("cloudzarr.storage.s3", "S3Store", "s3fs", "S3FileSystem")
_GCS = ("cloudzarr.storage.gcs", "GCSStore", "gcsfs", "GCSFileSystem")
_AZURE = ("cloudzarr.storage.azure", "AzureStore", "adlfs", "AzureBlobFileSystem")
#: URL scheme -> (store module, store class, filesystem module, filesystem class) of the
#: backends whose options are checked. Other fsspec backends pass unknown options on to their
#: own clients (sftp to paramiko...), so an option they do not name may still be right.
_BACKENDS = {
    "s3": _S3, "s3a": _S3, "gs": _GCS, "gcs": _GCS, "az": _AZURE, "abfs": _AZURE, "abfss": _AZURE,
}  # fmt: skip

#: Options the stores set themselves; a user passing them would fight the store.
_SET_BY_STORE = frozenset({"asynchronous", "loop", "skip_instance_cache", "use_listings_cache"})


def known_options(scheme: str) -> frozenset[str] | None:
    """The option names the backend of ``scheme`` takes, or None when it is not checked (or its
    package is not installed: opening the store then says which extra to install)."""
    backend = _BACKENDS.get(scheme.lower())
    if backend is None:
        return None
    import importlib

    try:
        store_cls = getattr(importlib.import_module(backend[0]), backend[1])
        declared = getattr(store_cls, "option_names", None)
        if declared:
            return frozenset(declared)
        cls = getattr(importlib.import_module(backend[2]), backend[3])
    except ImportError:
        return None
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(param.name)
    names.discard("self")
    return frozenset(names - _SET_BY_STORE)


def check_storage_options(url: str, options: Mapping[str, Any]) -> None:
    """Refuse an option the backend of ``url`` does not take, suggesting the closest name.

    Raises
    ------
    InvalidArgumentError
        Naming the unknown option and the closest known one (or the known ones).
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    known = known_options(scheme)
    if known is None:
        return
    for name in options:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
        raise InvalidArgumentError(f"unknown storage option {name!r} for {scheme}:// URLs; {hint}")
