"""The chunk-grid indexer against numpy: every selection reassembled from chunks equals numpy's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudzarr.arrays.indexing import BasicIndexer
from cloudzarr.errors import IndexingError


def _assemble(data: np.ndarray, chunks: tuple[int, ...], selection: Any) -> np.ndarray:
    """Rebuild ``data[selection]`` chunk by chunk, as the array layer does."""
    indexer = BasicIndexer(selection, data.shape, chunks)
    out = np.full(indexer.shape, -1, dtype=data.dtype)
    seen = 0
    for proj in indexer:
        origin = tuple(c * n for c, n in zip(proj.chunk_coords, chunks, strict=True))
        block = data[tuple(slice(o, o + n) for o, n in zip(origin, chunks, strict=True))]
        out[(*proj.out_selection, Ellipsis)] = block[proj.chunk_selection]
        if proj.is_complete:
            # A complete projection covers every in-bounds element of its chunk.
            assert block[proj.chunk_selection].size == block.size
        seen += 1
    assert seen == indexer.nchunks
    return out


@st.composite
def _case(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...], tuple[Any, ...]]:
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.integers(0, 13)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    selection: list[Any] = []
    for n in shape:
        if n > 0 and draw(st.booleans()) and draw(st.booleans()):
            selection.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 3, n + 3)
            step = st.none() | st.sampled_from([1, 2, 3, 5, -1, -2, -4])
            selection.append(slice(draw(bound), draw(bound), draw(step)))
    if selection and draw(st.booleans()):
        # Replace a leading or trailing run by an Ellipsis.
        cut = draw(st.integers(0, len(selection)))
        selection = [*selection[:cut], Ellipsis] if draw(st.booleans()) else [Ellipsis]
    return shape, chunks, tuple(selection)


@settings(max_examples=400, deadline=None)
@given(_case())
def test_selection_matches_numpy(case: tuple[tuple[int, ...], tuple[int, ...], Any]) -> None:
    shape, chunks, selection = case
    data = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    expected = data[selection]
    got = _assemble(data, chunks, selection)
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "selection",
    [5, -6, (0, 10), (slice(None), 4), (0, 0, 0), (Ellipsis, Ellipsis), "a", [1, 2], 1.5, True],
)
def test_bad_selections_raise_indexing_error(selection: Any) -> None:
    with pytest.raises(IndexingError):
        BasicIndexer(selection, (5, 4), (2, 2))


def test_zero_step_is_an_indexing_error() -> None:
    with pytest.raises(IndexingError, match="slice"):
        BasicIndexer(slice(None, None, 0), (5,), (2,))


def test_numpy_integers_and_zero_d_arrays_index_like_ints() -> None:
    data = np.arange(20).reshape(4, 5)
    for index in (np.int64(2), np.array(2), np.uint8(2)):
        assert _assemble(data, (3, 2), (index, slice(None))).tolist() == data[2].tolist()


def test_zero_d_array_selection() -> None:
    indexer = BasicIndexer((), (), ())
    assert indexer.shape == ()
    assert [p.chunk_coords for p in indexer] == [()]


def test_many_chunks_project_quickly_and_lazily() -> None:
    # 10^6 chunks: projection is per dimension; only the first few are materialised here.
    indexer = BasicIndexer(Ellipsis, (1000, 1000, 1000), (10, 10, 10))
    assert indexer.nchunks == 10**6
    first = next(iter(indexer))
    assert first.chunk_coords == (0, 0, 0) and first.is_complete


def test_step_larger_than_chunk_skips_chunks() -> None:
    indexer = BasicIndexer(slice(0, 100, 25), (100,), (10,))
    assert [p.chunk_coords for p in indexer] == [(0,), (2,), (5,), (7,)]
