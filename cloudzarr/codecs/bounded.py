"""Decompression that stops at the size the metadata expects: no decompression bombs.

A chunk's decoded size is known before it is decoded (its shape times its item size), yet
numcodecs' plain ``decode`` grows its output for as long as the stream goes on: a 32 KB zstd
frame that declares no content size, or a gzip stream of zeros, becomes a gigabyte before any
check could refuse it. The functions here are told the size and never produce more:

- ``zstd``: numcodecs decompresses into a caller's buffer and fails when the stream does not
  fit it ("Destination buffer is too small"), with or without a declared content size;
- ``gzip`` / ``zlib``: stdlib streaming inflate with ``max_length`` (one byte more than allowed,
  which tells a bomb from an exact fit), member after member;
- ``bz2`` / ``lzma``: the stdlib streaming decompressors with ``max_length`` likewise;
- ``blosc`` / ``lz4``: the frame header states the decoded size; it is checked before
  numcodecs allocates anything.

Any other codec (filters such as ``delta`` do not expand their input) decodes as usual and its
output size is checked afterwards. Every refusal is a
:class:`~cloudzarr.errors.ChunkDecodeError` naming the codec; the arrays layer adds the array
and chunk key.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from typing import Any

import numpy as np
from numcodecs.abc import Codec as Numcodec

from cloudzarr.codecs.base import Buffer, as_uint8
from cloudzarr.codecs.frames import decoded_nbytes
from cloudzarr.errors import ChunkDecodeError

__all__ = ["STREAM_STEP", "compress_bound", "decode_at_most", "decode_exact"]

_ZSTD_GOT = re.compile(r"got (\d+)")


def compress_bound(nbytes: int) -> int:
    """The most bytes any of the supported compressors turns ``nbytes`` into.

    zstd's bound is ``n + n/256 + 64 KiB`` at worst, deflate's ``n + 5 bytes per 16 KiB block``,
    blosc's and lz4's ``n + n/255 + 16``: ``n + n/16 + 64 KiB`` covers them all.
    """
    return nbytes + nbytes // 16 + 65536


def _raw(codec: Numcodec) -> Numcodec:
    # CheckedNumcodec (codecs/direct.py) wraps the real codec; reach it without importing it.
    inner = getattr(codec, "codec", None)
    return inner if isinstance(inner, Numcodec) else codec


def _bomb(name: str, limit: int) -> ChunkDecodeError:
    return ChunkDecodeError(
        f"codec {name}: data decodes to more than the {limit} bytes expected "
        "(corrupt chunk or decompression bomb); stopped there"
    )


def _buffer(limit: int, out: np.ndarray | None) -> np.ndarray:
    return np.empty(limit, dtype=np.uint8) if out is None else out


#: Streaming decoders are fed and hand over at most this much at a time, copied into the output
#: as it comes: their memory beyond the output stays this small whatever the stream holds.
STREAM_STEP = 64 * 2**10


def _streaming(
    name: str, make: Any, data: Buffer, limit: int, exact: bool, out: np.ndarray | None
) -> np.ndarray:
    """Run stdlib decompressor objects (one per member / stream) up to ``limit`` bytes."""
    out = _buffer(limit, out)
    filled = 0
    source: Any = memoryview(as_uint8(data))
    while True:
        decompressor = make()
        pos = 0
        pending: Any = b""
        while True:
            # zlib hands back unread input (unconsumed_tail); bz2 and lzma keep it inside.
            if not pending and getattr(decompressor, "needs_input", True):
                pending, pos = source[pos : pos + STREAM_STEP], pos + STREAM_STEP
            try:
                piece = decompressor.decompress(pending, min(STREAM_STEP, limit - filled + 1))
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
                raise ChunkDecodeError(f"codec {name}: {type(exc).__name__}: {exc}") from None
            if len(piece) > limit - filled:
                raise _bomb(name, limit)
            out[filled : filled + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
            filled += len(piece)
            if decompressor.eof:
                break
            pending = getattr(decompressor, "unconsumed_tail", b"")
            if not piece and not pending and pos >= len(source):
                raise ChunkDecodeError(f"codec {name}: stream is truncated")
        rest = decompressor.unused_data
        if pos < len(source):
            rest = bytes(rest) + bytes(source[pos:])
        if not rest or not any(rest):  # gzip allows zero padding after the last member
            break
        source = memoryview(rest)
    if exact and filled != limit:
        raise ChunkDecodeError(f"codec {name}: decoded {filled} bytes, expected {limit}")
    return out[:filled]


def _too_big(name: str, announced: int, limit: int, exact: bool) -> ChunkDecodeError:
    bound = "" if exact else "at most "
    return ChunkDecodeError(f"codec {name}: frame holds {announced} bytes, expected {bound}{limit}")


def _announced(codec_id: str, data: Buffer) -> int | None:
    return decoded_nbytes(codec_id, data)


def _zstd_frames(raw: np.ndarray) -> list[tuple[int, int]] | None:
    """(start, end) of each zstd frame in ``raw`` (skippable frames dropped), or None."""
    frames: list[tuple[int, int]] = []
    pos, size = 0, raw.size
    while pos < size:
        if size - pos < 8:
            return None
        magic = int.from_bytes(raw[pos : pos + 4].tobytes(), "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: magic, length, payload
            pos += 8 + int.from_bytes(raw[pos + 4 : pos + 8].tobytes(), "little")
            continue
        if magic != 0xFD2FB528:
            return None
        descriptor = int(raw[pos + 4])
        single = (descriptor >> 5) & 1
        header = 1 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
        header += (1 if single else 0, 2, 4, 8)[descriptor >> 6]
        end = pos + 4 + header
        while True:  # blocks: a 3-byte header (last flag, type, size), then the payload
            if end + 3 > size:
                return None
            block = int.from_bytes(raw[end : end + 3].tobytes(), "little")
            kind, length = (block >> 1) & 3, block >> 3
            end += 3 + (1 if kind == 1 else length)
            if block & 1:
                break
        end += 4 if (descriptor >> 2) & 1 else 0
        if end > size:
            return None
        frames.append((pos, end))
        pos = end
    return frames


def _zstd(
    codec: Numcodec, name: str, data: Buffer, limit: int, exact: bool, out: np.ndarray | None
) -> np.ndarray:
    """Frame by frame into one buffer of ``limit`` bytes: numcodecs fills a frame of known
    size into a larger buffer without a word, and fails one of unknown size that is too big."""
    raw = as_uint8(data)
    frames = _zstd_frames(raw)
    if frames is None:
        raise ChunkDecodeError(f"codec {name}: not a zstd frame, or a truncated one")
    if len(frames) == 1:
        announced = _announced("zstd", raw)
        if announced is not None and (announced > limit or (exact and announced != limit)):
            raise _too_big(name, announced, limit, exact)
    buffer = _buffer(limit, out)
    filled = 0
    for start, end in frames:
        frame = raw[start:end]
        announced = _announced("zstd", frame)
        room = limit - filled
        if announced is not None and announced > room:
            raise _bomb(name, limit)
        dest = buffer[filled : filled + (room if announced is None else announced)]
        try:
            codec.decode(frame, out=dest)
            filled += dest.size
        except RuntimeError as exc:
            got = _ZSTD_GOT.search(str(exc))
            if "too small" in str(exc):
                raise _bomb(name, limit) from None
            if announced is not None or got is None:
                raise ChunkDecodeError(f"codec {name}: {exc}") from None
            filled += int(got.group(1))  # a frame of unknown size, shorter than the room
    if exact and filled != limit:
        raise ChunkDecodeError(f"codec {name}: decoded {filled} bytes, expected {limit}")
    return buffer[:filled]


def _framed(
    codec: Numcodec, name: str, data: Buffer, limit: int, exact: bool, out: np.ndarray | None
) -> np.ndarray:
    announced = _announced(codec.codec_id, data)
    if announced is None:
        raise ChunkDecodeError(f"codec {name}: frame header is missing or invalid")
    if announced > limit or (exact and announced != limit):
        raise _too_big(name, announced, limit, exact)
    out = np.empty(announced, dtype=np.uint8) if out is None else out[:announced]
    try:
        codec.decode(data, out=out)
    except Exception as exc:
        raise ChunkDecodeError(f"codec {name}: {type(exc).__name__}: {exc}") from None
    return out


def _decode(
    codec: Numcodec, name: str, data: Buffer, limit: int, exact: bool, out: np.ndarray | None
) -> Buffer:
    codec = _raw(codec)
    codec_id = codec.codec_id
    if codec_id == "zstd":
        return _zstd(codec, name, data, limit, exact, out)
    if codec_id in ("blosc", "lz4"):
        return _framed(codec, name, data, limit, exact, out)
    if codec_id in ("gzip", "zlib"):
        # wbits 47 accepts a gzip or a zlib header, as numcodecs' GZip reader does.
        wbits = 47 if codec_id == "gzip" else zlib.MAX_WBITS
        return _streaming(name, lambda: zlib.decompressobj(wbits), data, limit, exact, out)
    if codec_id == "bz2":
        return _streaming(name, bz2.BZ2Decompressor, data, limit, exact, out)
    if codec_id == "lzma" and getattr(codec, "format", lzma.FORMAT_XZ) != lzma.FORMAT_RAW:
        fmt = getattr(codec, "format", lzma.FORMAT_AUTO)
        make = lambda: lzma.LZMADecompressor(format=fmt)  # noqa: E731
        return _streaming(name, make, data, limit, exact, out)
    try:
        decoded = codec.decode(data)
    except Exception as exc:
        raise ChunkDecodeError(f"codec {name}: {type(exc).__name__}: {exc}") from None
    flat = as_uint8(np.ascontiguousarray(decoded)) if isinstance(decoded, np.ndarray) else None
    size = flat.size if flat is not None else len(memoryview(decoded).cast("B"))
    if size > limit or (exact and size != limit):
        raise ChunkDecodeError(f"codec {name}: decoded {size} bytes, expected {limit}")
    if out is not None:
        out[:size] = flat if flat is not None else np.frombuffer(decoded, dtype=np.uint8)
        return out[:size]
    return decoded


def decode_exact(
    codec: Numcodec, name: str, data: Buffer, nbytes: int, out: np.ndarray | None = None
) -> Buffer:
    """Decode ``data`` to exactly ``nbytes`` bytes, never producing more.

    Parameters
    ----------
    codec, name
        The numcodecs codec and the name errors give it.
    data
        The encoded bytes.
    nbytes
        The decoded size the metadata expects.
    out
        A flat, contiguous uint8 array of ``nbytes`` to decode into (zstd, blosc and lz4 write
        straight into it), else a new buffer is returned.

    Raises
    ------
    ChunkDecodeError
        The data is corrupt, or decodes to any other size (decoding stops at ``nbytes``).
    """
    return _decode(codec, name, data, nbytes, True, out)


def decode_at_most(codec: Numcodec, name: str, data: Buffer, limit: int) -> Buffer:
    """Decode ``data`` to at most ``limit`` bytes (``ChunkDecodeError`` beyond, or if corrupt)."""
    return _decode(codec, name, data, limit, False, None)
