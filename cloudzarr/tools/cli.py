"""The ``cloudzarr`` command line."""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``cloudzarr`` console script."""
    raise SystemExit("cloudzarr: no commands yet")
