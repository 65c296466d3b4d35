"""Run moto's server with its backend scan cached: ``python -m moto_fixtures._moto_main -p PORT``.

moto re-lists its own package folders on every request to decide which backend serves a host
(about 30 % of each request's time). The list cannot change while the server runs, so it is
computed once. ``list_of_moto_modules`` is a generator, hence the tuple.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import moto.backends

_scan = moto.backends.list_of_moto_modules


@functools.cache
def _cached_modules() -> tuple[str, ...]:
    return tuple(_scan())


def _modules() -> Iterable[str]:
    return _cached_modules()


moto.backends.list_of_moto_modules = _modules


def main() -> None:
    """Start moto's server with the command-line arguments of ``moto_server``."""
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
