"""Decompressing straight into a caller's buffer, safely.

numcodecs' ``decode(data, out=dest)`` writes into ``dest`` without an intermediate buffer for
zstd, blosc and lz4, but it accepts a ``dest`` *larger* than the decoded data and leaves the
tail untouched: a short (corrupt or foreign) chunk would read back as garbage. The helpers here
read the decoded length from each format's header first, so the direct path is taken only when
the sizes match exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numcodecs.abc import Codec as Numcodec

from cloudzarr.codecs.base import as_uint8
from cloudzarr.codecs.bounded import decode_exact
from cloudzarr.codecs.frames import decoded_nbytes
from cloudzarr.errors import ChunkDecodeError

__all__ = ["DIRECT_CODEC_IDS", "CheckedNumcodec", "check_announced", "decoded_nbytes"]

#: numcodecs codec ids whose ``decode(..., out=)`` fills ``out`` without an intermediate copy.
DIRECT_CODEC_IDS = frozenset({"zstd", "blosc", "lz4"})


def check_announced(codec_id: str, announced: int | None, expected: int) -> None:
    """Raise unless a frame announcing ``announced`` bytes can decode to ``expected`` bytes.

    A zstd header gives the size of its first frame only (numcodecs decodes concatenated
    frames), so a smaller zstd figure is not conclusive; anything larger is wrong for sure, and
    refusing it early avoids allocating whatever a corrupt header claims.
    """
    if announced is None or announced == expected:
        return
    if codec_id == "zstd" and announced < expected:
        return
    raise ChunkDecodeError(f"codec {codec_id}: frame holds {announced} bytes, expected {expected}")


class CheckedNumcodec(Numcodec):
    """A numcodecs codec whose ``decode(buf, out=...)`` fills ``out`` exactly or fails.

    Every numcodecs codec the pipelines build is wrapped in this, so callers that decode into
    their own buffers (the arrays layer does) cannot get a silently part-filled chunk.
    ``codec_id``, ``get_config`` and ``encode`` are the wrapped codec's.
    """

    def __init__(self, codec: Numcodec) -> None:
        self.codec = codec
        self.codec_id = codec.codec_id

    @classmethod
    def wrap(cls, codec: Numcodec) -> CheckedNumcodec:
        """``codec`` wrapped (once)."""
        return codec if isinstance(codec, CheckedNumcodec) else cls(codec)

    def encode(self, buf: Any) -> Any:
        return self.codec.encode(buf)

    def decode(self, buf: Any, out: Any = None) -> Any:
        if out is None:
            return self.codec.decode(buf)
        if isinstance(out, np.ndarray) and not (out.flags.c_contiguous or out.flags.f_contiguous):
            raise ValueError("decode(out=...) needs a contiguous output array")
        dest = as_uint8(out) if isinstance(out, np.ndarray) else np.frombuffer(out, np.uint8)
        decode_exact(self.codec, self.codec_id, buf, dest.size, out=dest)
        return out

    def get_config(self) -> dict[str, Any]:
        return self.codec.get_config()

    def __repr__(self) -> str:
        return repr(self.codec)

    def __eq__(self, other: object) -> bool:
        inner = other.codec if isinstance(other, CheckedNumcodec) else other
        return bool(self.codec == inner)

    def __hash__(self) -> int:
        return hash(repr(self.codec))
