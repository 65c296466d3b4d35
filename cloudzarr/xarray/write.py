"""``to_zarr``: write an xarray Dataset with cloudzarr, shard-safe, consolidating once.

Semantics follow ``xarray.Dataset.to_zarr``:

==========  ===============================================================================
mode        effect
==========  ===============================================================================
``"w-"``    create; fail if the group exists (the default)
``"w"``     replace the group (its subtree is deleted first)
``"a"``     add or overwrite variables; with ``append_dim``, extend along that dimension
``"r+"``    write into existing variables only, usually with ``region``
==========  ===============================================================================

Variables are CF-encoded by xarray's own encoders (times, masks, scale/offset, coordinates),
exactly as xarray's zarr backend encodes them; dimension names go in v3 ``dimension_names`` or
the v2 ``_ARRAY_DIMENSIONS`` attribute. All metadata is written first, in one round of atomic
creates; numpy data is written at once; dask data through :func:`cloudzarr.dask.store`'s plan,
one writer per shard (or chunk). Consolidated metadata is written once per call that changes
metadata, after its data when ``compute=True`` (a region write in mode ``"r+"`` changes no
metadata and consolidates nothing).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from dask.delayed import Delayed, delayed
from xarray import Dataset, Variable
from xarray.backends.zarr import FillValueCoder, encode_zarr_attr_value, encode_zarr_variable
from xarray.conventions import decode_cf_variables, encode_dataset_coordinates

from cloudzarr.api import synchronous as api
from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.dask.plan import aligned_chunks, check_plan, normalize_region
from cloudzarr.dask.write import _finish, _write_tasks, plan_write, run_tasks
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.groups import Group
from cloudzarr.metadata.dtypes import STRING_DTYPE
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.progress import ProgressCallback, resolve_progress
from cloudzarr.storage import Store, open_store
from cloudzarr.xarray.backend import DIMENSION_KEY, CloudzarrDataStore

__all__ = ["to_zarr"]

_MODES = ("w", "w-", "a", "r+")
#: Per-variable encoding keys this writer understands.
_ENCODING_KEYS = {"chunks", "shards", "compressors", "filters", "fill_value", "dtype"}


def _existing_encodings(group: Group, names: set[str], mask: bool) -> dict[str, dict[str, Any]]:
    """The encodings of the stored variables among ``names``, as xarray decodes them.

    Data appended or written into a region must be encoded exactly as what is stored (time
    units and calendar, scale, dtype), or it would be stored relative to other units.
    """
    store = CloudzarrDataStore(group, use_zarr_fill_value_as_mask=mask)
    stored = {k: v for k, v in store.arrays().items() if k in names}
    if not stored:
        return {}
    raw = {k: store.open_store_variable(a) for k, a in stored.items()}
    decoded, _, _ = decode_cf_variables(raw, dict(store.get_attrs()))
    return {str(k): dict(v.encoding) for k, v in decoded.items()}


def _encoded(
    ds: Dataset,
    encoding: Mapping[Hashable, Mapping[str, Any]],
    fmt: int,
    existing: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Variable], dict[str, Any]]:
    """The dataset's variables and attributes, CF-encoded as xarray's zarr backend does."""
    unknown = [str(k) for k in encoding if k not in ds.variables]
    if unknown:
        raise InvalidArgumentError(f"encoding names variables not in the dataset: {unknown}")
    variables, attrs = encode_dataset_coordinates(ds)
    out: dict[str, Variable] = {}
    for name, var in variables.items():
        var = var.copy(deep=False)
        extra = dict(encoding.get(name, {}))
        bad = sorted(set(extra) - _ENCODING_KEYS)
        if bad:
            raise InvalidArgumentError(
                f"encoding of variable {name!r}: unsupported keys {bad} "
                f"(cloudzarr takes {sorted(_ENCODING_KEYS)})"
            )
        if str(name) in existing:
            var.encoding = dict(existing[str(name)])
        else:
            var.encoding = {**var.encoding, **extra}
        out[str(name)] = encode_zarr_variable(var, name=name, zarr_format=2 if fmt == 2 else 3)
    return out, {str(k): encode_zarr_attr_value(v) for k, v in attrs.items()}


def _values(var: Variable) -> Any:
    """The variable's data as numpy or dask, strings as variable-length UTF-8."""
    data = var.data
    if var.dtype.kind == "U" or (var.dtype.kind == "O"):
        return data.astype(STRING_DTYPE)
    return data


def _array_dtype(var: Variable) -> np.dtype[Any]:
    if var.dtype.kind in ("U", "O", "T"):
        return STRING_DTYPE
    return var.dtype


def _split_fill(var: Variable, fmt: int, mask: bool) -> tuple[Any, dict[str, Any]]:
    """The array's fill value and the variable's attributes to store (as xarray does)."""
    attrs = dict(var.attrs)
    if mask:
        return attrs.pop("_FillValue", None), attrs
    fill_value = var.encoding.get("fill_value")
    if fill_value is None and var.dtype.kind == "f":
        fill_value = np.nan  # xarray's default for floats (zarr's would be 0)
    if attrs.get("_FillValue") is not None:
        attrs["_FillValue"] = FillValueCoder.encode(attrs["_FillValue"], var.dtype)
    else:
        attrs.pop("_FillValue", None)
    return fill_value, attrs


def _chunks(var: Variable) -> Any:
    chunks = var.encoding.get("chunks")
    if chunks is not None:
        return tuple(chunks)
    if var.chunks is not None:
        # The largest dask block per dimension (as xarray does), so blocks map onto chunks.
        return tuple(max(c) if c else 1 for c in var.chunks)
    return None


def _array_metadata(name: str, var: Variable, fmt: int, mask: bool) -> Any:
    fill_value, attrs = _split_fill(var, fmt, mask)
    attrs = {k: encode_zarr_attr_value(v) for k, v in attrs.items()}
    dims = [str(d) for d in var.dims]
    if fmt == 2:
        attrs[DIMENSION_KEY] = dims
    kwargs: dict[str, Any] = {}
    for key in ("compressors", "filters"):
        if key in var.encoding:
            kwargs[key] = var.encoding[key]
    dtype = _array_dtype(var)
    if dtype == STRING_DTYPE:
        fill_value = "" if fill_value is None else fill_value
    shards = var.encoding.get("shards")
    try:
        meta = build_array_metadata(
            shape=var.shape,
            dtype=dtype,
            chunks=_chunks(var),
            shards=tuple(shards) if shards is not None else None,
            fill_value=fill_value,
            attributes=attrs,
            dimension_names=dims if fmt == 3 else None,
            zarr_format=fmt,
            **kwargs,
        )
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"variable {name!r}: {exc}") from exc
    if fmt == 2 and fill_value is None:
        # No fill value: v2 stores null (as zarr-python does for xarray), which masks nothing;
        # the dtype's zero would turn real zeros into NaN/NaT on read.
        meta = dataclasses.replace(meta, fill_value=None)
    return meta


def _region_slices(
    name: str, var: Variable, region: Mapping[str, slice] | None, offsets: Mapping[str, int]
) -> tuple[slice, ...] | None:
    if region is None and not offsets:
        return None
    out = []
    for dim, n in zip(var.dims, var.shape, strict=True):
        if region is not None and dim in region:
            out.append(region[str(dim)])
        elif dim in offsets:
            out.append(slice(offsets[str(dim)], offsets[str(dim)] + n))
        else:
            out.append(slice(None))
    return tuple(out)


def _check_region(ds: Dataset, region: Mapping[str, slice]) -> None:
    if not isinstance(region, Mapping):
        raise InvalidArgumentError(
            f"region must be a mapping of dimension names to slices, got {type(region).__name__}"
        )
    for dim, sl in region.items():
        if dim not in ds.dims:
            raise InvalidArgumentError(f"region names dimension {dim!r}, not in the dataset")
        if not isinstance(sl, slice) or sl.step not in (None, 1):
            raise InvalidArgumentError(
                f"region for dimension {dim!r} must be a slice with step 1, got {sl!r}"
            )
    outside = [str(n) for n, v in ds.variables.items() if not set(v.dims) & set(region)]
    if outside:
        raise InvalidArgumentError(
            f"variables {outside} have no dimension in region {sorted(region)}: drop them "
            "before a region write (as xarray requires), e.g. ds.drop_vars(...)"
        )


def to_zarr(
    ds: Dataset,
    url: str | Store,
    *,
    group: str | None = None,
    mode: str | None = None,
    append_dim: str | None = None,
    region: Mapping[str, slice] | None = None,
    compute: bool = True,
    consolidated: bool = True,
    zarr_format: int | None = None,
    encoding: Mapping[Hashable, Mapping[str, Any]] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    safe_chunks: bool = True,
    use_zarr_fill_value_as_mask: bool | None = None,
    progress: bool | ProgressCallback | None = None,
) -> Group | Delayed:
    """Write ``ds`` to the group at ``url`` (and ``group``) as ``Dataset.to_zarr`` does.

    Parameters
    ----------
    ds
        The dataset (numpy- or dask-backed).
    url
        A URL, path or cloudzarr store.
    group
        The group inside the store (None: the root).
    mode
        ``"w-"`` (default), ``"w"``, ``"a"`` (default with ``append_dim``) or ``"r+"``
        (default with ``region``); see the module notes.
    append_dim
        Extend the variables having this dimension along it.
    region
        ``{dim: slice}``: write into that part of existing variables (every variable must use
        one of these dimensions).
    compute
        Write the dask data now; False returns a Delayed that writes it (metadata and numpy
        data are written at once, and consolidated metadata too, as it will not change).
    consolidated
        Write consolidated metadata (once, at the end) when this call changes metadata.
    zarr_format
        2 or 3 for a new group (default 3); an existing group keeps its own.
    encoding
        Per-variable ``chunks``, ``shards``, ``compressors``, ``filters``, ``fill_value``,
        ``dtype`` (merged into each variable's ``encoding``).
    storage_options
        Options of the store opened from ``url``.
    safe_chunks
        Refuse a region or append whose edges cut a stored shard/chunk another writer may
        write (dask blocks that cut one are always regrouped, never written by two tasks).
    use_zarr_fill_value_as_mask
        Store ``_FillValue`` as the array's fill value (None: for format 2 only, as xarray).
    progress
        ``progress(done, total)`` over the dask blocks written, or True for a progress bar.

    Returns
    -------
    The written :class:`~cloudzarr.Group`, or a Delayed with ``compute=False``.

    Raises
    ------
    InvalidArgumentError
        A bad mode, region, encoding or combination of them.
    UnsafeWriteError
        A region or append edge cutting a stored object with ``safe_chunks=True``.
    """
    if not isinstance(ds, Dataset):
        raise InvalidArgumentError(f"to_zarr writes an xarray Dataset, got {type(ds).__name__}")
    if mode is None:
        mode = "a" if append_dim is not None else ("r+" if region is not None else "w-")
    if mode not in _MODES:
        raise InvalidArgumentError(f"mode must be one of {_MODES}, got {mode!r}")
    if append_dim is not None and region is not None:
        raise InvalidArgumentError("append_dim and region cannot be used together")
    if append_dim is not None and mode != "a":
        raise InvalidArgumentError(f"append_dim needs mode 'a', got mode {mode!r}")
    if region is not None:
        if mode not in ("a", "r+"):
            raise InvalidArgumentError(f"region needs mode 'a' or 'r+', got mode {mode!r}")
        _check_region(ds, region)
    if append_dim is not None and append_dim not in ds.dims:
        raise InvalidArgumentError(f"append_dim {append_dim!r} is not a dimension of the dataset")
    if zarr_format not in (None, 2, 3):
        raise InvalidArgumentError(f"zarr_format must be 2, 3 or None, got {zarr_format!r}")
    store = open_store(url, storage_options=storage_options)
    path = (group or "").strip("/")
    existing: Group | None = None
    if mode in ("a", "r+"):
        try:
            existing = api.open_group(store, path=path, mode="r+", zarr_format=zarr_format)
        except FileNotFoundError:
            if mode == "r+":
                raise
    fmt = existing.zarr_format if existing is not None else (zarr_format or 3)
    mask = use_zarr_fill_value_as_mask
    if mask is None:
        mask = fmt == 2
    existing_enc = {}
    if existing is not None and mode in ("a", "r+") and (append_dim or region is not None):
        existing_enc = _existing_encodings(existing, {str(n) for n in ds.variables}, mask)
    variables, attrs = _encoded(ds, encoding or {}, fmt, existing_enc)

    current: dict[str, Array] = dict(existing.arrays()) if existing is not None else {}
    # 1. Decide every variable's target (no writes yet), so a refusal leaves nothing behind.
    offsets: dict[str, int] = {}
    resizes: dict[str, tuple[int, ...]] = {}
    new_nodes: dict[str, Any] = {}
    targets: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}  # name -> (shape, grid)
    if existing is None:
        new_nodes[path] = (GroupMetadataV3 if fmt == 3 else GroupMetadataV2)(attributes=attrs)
    for name, var in variables.items():
        if name in current and not (mode == "a" and region is None and append_dim is None):
            array = current[name]
            shape = array.shape
            if append_dim is not None and append_dim in var.dims:
                axis = var.dims.index(append_dim)
                offsets[append_dim] = array.shape[axis]
                shape = tuple(
                    n + var.shape[axis] if i == axis else n for i, n in enumerate(array.shape)
                )
                resizes[name] = shape
            targets[name] = (shape, array.metadata.chunks)
        elif name not in current and mode == "r+":
            raise InvalidArgumentError(
                f"variable {name!r} is not in group {path or '/'!r}; mode 'r+' writes only "
                "existing variables (use mode 'a' to add it)"
            )
        elif name not in current and append_dim in var.dims and existing is not None:
            raise InvalidArgumentError(
                f"variable {name!r} is new but has the append dimension {append_dim!r}"
            )
        else:
            # New, or (mode 'a' without append_dim or region) replaced by its new definition.
            meta = _array_metadata(name, var, fmt, mask)
            new_nodes[_join(path, name)] = meta
            targets[name] = (meta.shape, meta.chunks)
    for name, var in variables.items():
        shape, grid = targets[name]
        selection = _region_slices(name, var, region, offsets)
        offset = normalize_region(selection, shape, var.shape, name)
        chunks = var.chunks if var.chunks is not None else tuple((n,) for n in var.shape)
        if var.chunks is not None:
            chunks = aligned_chunks(var.chunks, offset, grid)
        check_plan(chunks, offset, shape, grid, name, safe_edges=safe_chunks)

    # 2. Metadata, all of it before any data.
    metadata_changed = bool(new_nodes or resizes)
    if existing is not None and mode == "a" and attrs:
        existing.update_attributes(attrs)
        metadata_changed = True
    arrays: dict[str, Array] = {}
    for name, shape in resizes.items():
        current[name].resize(shape)
    if new_nodes:
        created = api.create_hierarchy(store=store, nodes=new_nodes, overwrite=mode in ("w", "a"))
        current.update(
            {n: node for n in variables if isinstance(node := created.get(_join(path, n)), Array)}
        )
    arrays = {name: current[name] for name in variables}

    # 3. Data: numpy now, dask through the shard-safe plan.
    token = uuid.uuid4().hex
    tasks: list[Delayed] = []
    for name, var in variables.items():
        array = arrays[name]
        selection = _region_slices(name, var, region, offsets)
        data = _values(var)
        if hasattr(data, "dask"):
            source, plan = plan_write(
                data, array, region=selection, rechunk=True, safe_chunks=safe_chunks
            )
            tasks.extend(_write_tasks(source, array, plan, f"{token}-{len(tasks)}"))
        else:
            array[selection if selection is not None else ...] = np.asarray(data)
    consolidate_path = path if (consolidated and metadata_changed) else None
    if not compute:
        if consolidate_path is not None:
            api.consolidate_metadata(store, consolidate_path)
        return delayed(_finish, pure=False)(
            store, None, tasks, dask_key_name=f"cloudzarr-to-zarr-{token}"
        )
    with resolve_progress(progress, len(tasks), f"writing {path or '/'}") as reporter:
        run_tasks(tasks, "cloudzarr-write-", reporter)
    if consolidate_path is not None:
        return api.consolidate_metadata(store, consolidate_path)
    return api.open_group(store, path=path, mode="r+")


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name
