"""cloudzarr."""
