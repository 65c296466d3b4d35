"""cloudzarr benchmarks against zarr-python and raw fsspec.

Run them all with ``python -m benchmarks`` (``make bench``).
"""
