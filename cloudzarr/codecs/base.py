"""The three codec kinds of a Zarr v3 pipeline (and the v2 bridge reuses them).

- :class:`ArrayArrayCodec` maps a chunk array to another array (``transpose``, numcodecs filters);
- :class:`ArrayBytesCodec` serialises an array to bytes (``bytes``, ``vlen-utf8``, sharding);
- :class:`BytesBytesCodec` maps bytes to bytes (``zstd``, ``gzip``, ``blosc``, ``crc32c``...).

Codecs are immutable, thread-safe and synchronous: the arrays layer decides where they run
(numcodecs releases the GIL in zstd / blosc / zlib, so a thread pool scales).
Buffers passed around are any contiguous bytes-like object (``bytes``, ``memoryview`` or a
1-d numpy array); decoders must not modify their input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["ArrayArrayCodec", "ArrayBytesCodec", "Buffer", "BytesBytesCodec", "as_uint8"]

#: Any contiguous bytes-like object.
Buffer = bytes | bytearray | memoryview | np.ndarray


def as_uint8(data: Buffer) -> np.ndarray:
    """A flat uint8 view of any contiguous buffer (no copy), in memory order."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1, order="A").view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


class ArrayArrayCodec(ABC):
    """Array -> array codec."""

    name: str

    @abstractmethod
    def resolve(
        self, dtype: np.dtype[Any], shape: tuple[int, ...]
    ) -> tuple[np.dtype[Any], tuple[int, ...]]:
        """dtype and shape of the encoded array for a decoded ``dtype`` / ``shape``."""

    @abstractmethod
    def encode(self, chunk: np.ndarray) -> np.ndarray:
        """Encode one chunk (may return a view)."""

    @abstractmethod
    def decode(self, chunk: np.ndarray, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        """Decode to an array of the decoded ``dtype`` / ``shape`` (may return a view)."""


class ArrayBytesCodec(ABC):
    """Array -> bytes codec (the serialiser)."""

    name: str

    @abstractmethod
    def encode(self, chunk: np.ndarray) -> Buffer:
        """Serialise one chunk."""

    @abstractmethod
    def decode(self, data: Buffer, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        """Deserialise to an array of ``dtype`` and ``shape`` (possibly a read-only view)."""

    def encoded_size(self, dtype: np.dtype[Any], shape: tuple[int, ...]) -> int | None:
        """Encoded byte length when it depends only on ``shape``, else ``None``."""
        return None


class BytesBytesCodec(ABC):
    """Bytes -> bytes codec."""

    name: str

    @abstractmethod
    def encode(self, data: Buffer) -> Buffer:
        """Encode a buffer."""

    @abstractmethod
    def decode(self, data: Buffer) -> Buffer:
        """Decode a buffer."""

    def encoded_size(self, size: int) -> int | None:
        """Encoded length of a ``size``-byte input when fixed (checksums), else ``None``."""
        return None
