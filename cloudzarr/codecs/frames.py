"""What a compressed frame's header announces: the decoded length of zstd, blosc and lz4
(numcodecs) frames, read before anything is decompressed."""

from __future__ import annotations

from typing import Any

from cloudzarr.codecs.base import Buffer, as_uint8

__all__ = ["decoded_nbytes"]

_ZSTD_MAGIC = 0xFD2FB528


def _zstd_content_size(raw: Any) -> int | None:
    if raw.size < 6 or int.from_bytes(raw[:4].tobytes(), "little") != _ZSTD_MAGIC:
        return None
    descriptor = int(raw[4])
    fcs_flag = descriptor >> 6
    single_segment = (descriptor >> 5) & 1
    dict_id_size = (0, 1, 2, 4)[descriptor & 3]
    fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if fcs_size == 0:
        return None
    start = 5 + (0 if single_segment else 1) + dict_id_size
    if raw.size < start + fcs_size:
        return None
    value = int.from_bytes(raw[start : start + fcs_size].tobytes(), "little")
    return value + 256 if fcs_size == 2 else value


def decoded_nbytes(codec_id: str, data: Buffer) -> int | None:
    """Decoded length announced by a zstd / blosc / lz4 (numcodecs) frame, or ``None``."""
    raw = as_uint8(data)
    if codec_id == "zstd":
        return _zstd_content_size(raw)
    if codec_id == "blosc":
        if raw.size < 16 or int.from_bytes(raw[12:16].tobytes(), "little") != raw.size:
            return None
        return int.from_bytes(raw[4:8].tobytes(), "little")
    if codec_id == "lz4":
        # numcodecs LZ4 prefixes the original size as a little-endian uint32.
        return int.from_bytes(raw[:4].tobytes(), "little") if raw.size >= 4 else None
    return None
