"""cloudzarr on dask: shard-safe parallel writes and chunk-aligned reads.

- :func:`store` writes a dask array into an existing array with one writer per stored object.
- :func:`to_zarr` creates the array, then stores (``dask.array.to_zarr``'s shape).
- :func:`to_dask` / :func:`from_zarr` read with blocks aligned to the stored shards or chunks.

Arrays and stores pickle as their configuration (credentials included: a pickle of an array on
a store opened with ``key=``/``secret=`` carries them; open the store without credentials and
let each worker's environment supply them, e.g. ``AWS_ACCESS_KEY_ID``, to keep them out of
the task graph). Unpickling does no I/O; on a worker, every store unpickled from one
configuration shares the process's one client for it (``cloudzarr.storage.transport``).
"""

from cloudzarr.dask.plan import WritePlan, aligned_chunks, check_plan
from cloudzarr.dask.read import from_zarr, to_dask
from cloudzarr.dask.write import plan_write, store, to_zarr

__all__ = [
    "WritePlan",
    "aligned_chunks",
    "check_plan",
    "from_zarr",
    "plan_write",
    "store",
    "to_dask",
    "to_zarr",
]
