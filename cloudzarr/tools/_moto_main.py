"""Run moto's server with its backend scan cached: ``python -m cloudzarr.tools._moto_main -p PORT``.

moto re-lists its own package folders on every request to decide which backend serves a host
(about 30 % of each request's time). The list cannot change while the server runs, so it is
computed once. ``list_of_moto_modules`` is a generator, hence the tuple.

moto checks a conditional ``PutObject`` (``If-Match`` / ``If-None-Match``) and then stores the
object as two separate steps in a threaded server, so two concurrent conditional writes to one
key can both pass the check (measured: 2 winners of 32 concurrent creates under load). S3 makes
them atomic; so does this server, by handling conditional PUTs one at a time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto.backends
from moto.s3.responses import S3Response

_scan = moto.backends.list_of_moto_modules


@functools.cache
def _cached_modules() -> tuple[str, ...]:
    return tuple(_scan())


def _modules() -> Iterable[str]:
    return _cached_modules()


moto.backends.list_of_moto_modules = _modules

_CONDITIONAL_PUT = threading.Lock()
_put_object: Callable[[S3Response], Any] = S3Response.put_object


def _atomic_put_object(self: S3Response) -> Any:
    if self.headers.get("If-Match") is None and self.headers.get("If-None-Match") is None:
        return _put_object(self)
    with _CONDITIONAL_PUT:
        return _put_object(self)


S3Response.put_object = _atomic_put_object  # type: ignore[method-assign]


def main() -> None:
    """Start moto's server with the command-line arguments of ``moto_server``."""
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
