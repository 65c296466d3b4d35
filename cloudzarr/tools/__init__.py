"""Command-line tools: the ``cloudzarr`` CLI, ``bench`` and ``demo``."""
