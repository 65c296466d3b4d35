"""``python -m cloudzarr.tools.cli``."""

from cloudzarr.tools.cli import main

main()
