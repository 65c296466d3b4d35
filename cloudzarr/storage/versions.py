"""Version tokens derived from a value's bytes, for backends without a native one.

Memory stores and local files have no ETag or generation number, so their version of a key is
a digest of its bytes (plus, on files, identity data; see :mod:`cloudzarr.storage.local_cas`).
A digest changes whenever the bytes change. Writing the same bytes again keeps the token, as an
S3 ETag does: a compare-and-swap against that token still succeeds, which is right for a
value-based read-modify-write (its input is exactly what is stored).
"""

from __future__ import annotations

import hashlib


def content_version(value: bytes) -> str:
    """A 128-bit BLAKE2b digest of ``value``, in hex."""
    return hashlib.blake2b(value, digest_size=16).hexdigest()
