"""The exceptions cloudzarr raises.

Every error derives from :class:`CloudzarrError`. Where a builtin exception has the same meaning
(``KeyError`` for a missing node, ``FileExistsError`` for an existing one, ``ValueError`` for bad
input, ``PermissionError`` for a read-only store) the cloudzarr class derives from it too, so code
written against zarr-python's habits keeps catching what it expects.

Messages name the key, path or field at fault. They never contain credentials.
"""

from __future__ import annotations


class CloudzarrError(Exception):
    """Base class of every error raised by cloudzarr."""


# --- storage -----------------------------------------------------------------------------------


class StoreError(CloudzarrError):
    """A store operation failed."""


class InvalidKeyError(StoreError, ValueError):
    """A key is not a valid relative ``/``-separated path (``..``, absolute, empty segment...)."""


class ReadOnlyError(StoreError, PermissionError):
    """A write was attempted on a read-only store or node."""


class KeyNotFoundError(StoreError, FileNotFoundError):
    """A key that must exist (for ``getsize``, say) does not."""


class InvalidStoreURLError(StoreError, ValueError):
    """A store URL cannot be opened, or options were given that it does not take."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The storage location itself (bucket, container, root folder) does not exist."""


class AccessDeniedError(StoreError, PermissionError):
    """The backend refused the credentials for this bucket or key."""


class PreconditionFailedError(StoreError):
    """A conditional request was refused by the backend (HTTP 412)."""


class AmbiguousWriteError(StoreError):
    """A conditional write was sent more than once (a lost response, then a retry) and the key
    now holds another value: whether the first attempt was applied cannot be known.

    Callers whose change is idempotent re-read the key and apply it again; others must check
    their own effect before repeating it.
    """


class ConcurrentUpdateError(StoreError):
    """A read-modify-write of a key lost to concurrent writers more times than allowed; the
    message names the key. Nothing was half-written: the key holds another writer's value."""


class ListingInterruptedError(StoreError):
    """A paged listing failed midway and cannot be resumed where it stopped; list again."""


class TransientStoreError(StoreError):
    """A request failed in a way that may succeed on retry (timeout, throttling, reset)."""


class ThrottledError(TransientStoreError):
    """The backend asked us to slow down (S3 503 SlowDown, GCS 429)."""


class StoreTimeoutError(TransientStoreError, TimeoutError):
    """A request timed out."""


class ConnectionResetStoreError(TransientStoreError, ConnectionError):
    """The connection was reset mid-request."""


# --- nodes -------------------------------------------------------------------------------------


class NodeNotFoundError(CloudzarrError, KeyError):
    """No group or array exists at a path."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better unquoted.
        return str(self.args[0]) if self.args else ""


class GroupNotFoundError(NodeNotFoundError):
    """No group exists at a path."""


class ArrayNotFoundError(NodeNotFoundError):
    """No array exists at a path."""


class NodeExistsError(CloudzarrError, FileExistsError):
    """A node already exists where one was to be created."""


class ContainsGroupError(NodeExistsError):
    """A group already exists at a path."""


class ContainsArrayError(NodeExistsError):
    """An array already exists at a path."""


class NodeTypeError(CloudzarrError, TypeError):
    """A node is of the wrong kind for the operation (an array where a group is needed...)."""


# --- metadata and data -------------------------------------------------------------------------


class MetadataError(CloudzarrError, ValueError):
    """Metadata is malformed or invalid; the message names the document and field."""


class InvalidMetadataError(MetadataError):
    """A metadata document is malformed JSON, misses a field, or has a field of the wrong form."""


class ConsolidatedMetadataError(MetadataError):
    """Consolidated metadata is malformed or disagrees with the store."""


class StaleConsolidatedMetadataError(ConsolidatedMetadataError):
    """Consolidated metadata was demanded but cannot be trusted: a writer marked it pending
    and has not finished (or died midway). Open without demanding it (the store is walked), or
    rebuild it with ``consolidate_metadata``."""


class UnsupportedError(CloudzarrError, NotImplementedError):
    """Something valid in principle that cloudzarr does not support."""


class UnsupportedFormatError(UnsupportedError, MetadataError):
    """An unknown ``zarr_format`` or node type."""


class UnsupportedCodecError(UnsupportedError, MetadataError):
    """An unknown codec, or an extension marked ``must_understand: true``."""


class UnsupportedDataTypeError(UnsupportedError, MetadataError):
    """An unknown or unsupported data type."""


class ChunkDecodeError(CloudzarrError, ValueError):
    """A stored chunk could not be decoded (corrupt or truncated); names the array and chunk key."""


class ArrayShapeError(CloudzarrError, ValueError):
    """A value's shape or dtype does not fit the selection it is assigned to."""


class IndexingError(CloudzarrError, IndexError):
    """An index is out of bounds or of an unsupported kind."""


# --- calling the API ---------------------------------------------------------------------------


class InvalidArgumentError(CloudzarrError, ValueError, TypeError):
    """A function was called with an argument it does not take, a missing one, or a value it
    cannot use (``mode="rw"``, ``shape=`` missing, ``compressor=`` for ``compressors=``...).

    Python reports such calls as ``TypeError`` and zarr-python as ``ValueError``; this class
    derives from both so either ``except`` keeps working.
    """


class UnsafeWriteError(InvalidArgumentError):
    """A parallel write plan would let two tasks write parts of one stored object (a shard, or a
    chunk when unsharded): each would read, modify and rewrite it, and one task's part would be
    lost. The message names the array, the dimension and the offending boundary.
    """


__all__ = [
    "AccessDeniedError",
    "AmbiguousWriteError",
    "ArrayNotFoundError",
    "ArrayShapeError",
    "ChunkDecodeError",
    "CloudzarrError",
    "ConcurrentUpdateError",
    "ConnectionResetStoreError",
    "ConsolidatedMetadataError",
    "ContainsArrayError",
    "ContainsGroupError",
    "GroupNotFoundError",
    "IndexingError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidMetadataError",
    "InvalidStoreURLError",
    "KeyNotFoundError",
    "ListingInterruptedError",
    "MetadataError",
    "NodeExistsError",
    "NodeNotFoundError",
    "NodeTypeError",
    "PreconditionFailedError",
    "ReadOnlyError",
    "StaleConsolidatedMetadataError",
    "StoreError",
    "StoreNotFoundError",
    "StoreTimeoutError",
    "ThrottledError",
    "TransientStoreError",
    "UnsafeWriteError",
    "UnsupportedCodecError",
    "UnsupportedDataTypeError",
    "UnsupportedError",
    "UnsupportedFormatError",
]
