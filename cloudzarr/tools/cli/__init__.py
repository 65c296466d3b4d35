"""The ``cloudzarr`` command line.

One module per job: :mod:`.common` (options, errors, targets, progress), :mod:`.browse`
(``tree``, ``info``, ``ls``, ``du``), :mod:`.edit` (``consolidate``, ``rm``, ``mv``, ``cp``),
:mod:`.validate_cmd`, :mod:`.bench_cmd` and :mod:`.demo_cmd`.
"""

from __future__ import annotations

import click

from cloudzarr.tools.cli.bench_cmd import bench
from cloudzarr.tools.cli.browse import du, info, ls, tree
from cloudzarr.tools.cli.demo_cmd import demo
from cloudzarr.tools.cli.edit import consolidate, cp, mv, rm
from cloudzarr.tools.cli.validate_cmd import validate_cmd


@click.group()
@click.version_option(package_name="cloudzarr")
def cli() -> None:
    """cloudzarr: Zarr hierarchies on object storage, and tools to measure them."""


for _command in (tree, info, ls, du, consolidate, rm, mv, cp, validate_cmd, bench, demo):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``cloudzarr`` console script."""
    cli()


__all__ = ["cli", "main"]
