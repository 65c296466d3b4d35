"""Benchmarks of cloudzarr against zarr-python and raw fsspec; run them all with ``python -m benchmarks``."""
