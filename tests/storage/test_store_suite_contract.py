"""The store suite, part 3: the contract every store keeps. Runs on every store.

Atomic create, read-only refusal, key refusal, pickling and equality, and the one limiter per
store with its configuration.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from cloudzarr.errors import InvalidKeyError, ReadOnlyError
from cloudzarr.storage import MemoryStore, RangeByteRequest, Store
from cloudzarr.storage.limiter import DEFAULT_CONCURRENCY_ENV


def _rebuild(store: Store, **overrides: Any) -> Store:
    """A second store of the same backend and configuration, with some settings changed.

    This is how pickling rebuilds a store, so it is also what a dask worker would get.
    """
    return type(store)(**{**store._full_config(), **overrides})


# --- set_if_not_exists -----------------------------------------------------------------------


async def test_set_if_not_exists_creates_once(any_store: Store) -> None:
    assert await any_store.set_if_not_exists("a/zarr.json", b"first") is True
    assert await any_store.set_if_not_exists("a/zarr.json", b"second") is False
    assert await any_store.get("a/zarr.json") == b"first"


async def test_set_if_not_exists_of_empty_value(any_store: Store) -> None:
    assert await any_store.set_if_not_exists("e", b"") is True
    assert await any_store.set_if_not_exists("e", b"x") is False
    assert await any_store.get("e") == b""


async def test_set_if_not_exists_after_delete(any_store: Store) -> None:
    await any_store.set("k", b"old")
    await any_store.delete("k")
    assert await any_store.set_if_not_exists("k", b"new") is True
    assert await any_store.get("k") == b"new"


@pytest.mark.parametrize("key", ["race", "deep/er/race/zarr.json"])
async def test_set_if_not_exists_32_way_race(any_store: Store, key: str) -> None:
    values = [f"creator {i:02d} ".encode() * (i + 1) for i in range(32)]
    results = await asyncio.gather(*(any_store.set_if_not_exists(key, v) for v in values))
    assert results.count(True) == 1, results
    winner = values[results.index(True)]
    assert await any_store.get(key) == winner
    assert [k async for k in any_store.list()] == [key]


# --- read-only -------------------------------------------------------------------------------


async def _assert_reads_work(store: Store) -> None:
    assert await store.get("a/b") == b"ab"
    assert await store.get("a/b", RangeByteRequest(1, 2)) == b"b"
    assert await store.get_partial_values([("c", None), ("nope", None)]) == [b"c", None]
    assert await store.exists("a/b")
    assert await store.getsize("c") == 1
    assert sorted([k async for k in store.list()]) == ["a/b", "c"]
    assert [k async for k in store.list_prefix("a")] == ["a/b"]
    assert sorted([k async for k in store.list_dir("")]) == ["a", "c"]
    assert not await store.is_empty()


def _write_ops(store: Store) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "set": lambda: store.set("a/b", b"changed"),
        "set new": lambda: store.set("new", b"x"),
        "set_if_not_exists": lambda: store.set_if_not_exists("new", b"x"),
        "set_many": lambda: store.set_many({"new": b"x", "a/b": b"y"}),
        "delete": lambda: store.delete("a/b"),
        "delete missing": lambda: store.delete("nope"),
        "delete_dir": lambda: store.delete_dir("a"),
        "delete_dir root": lambda: store.delete_dir(""),
    }


async def test_read_only_view_refuses_every_write(any_store: Store) -> None:
    await any_store.set_many({"a/b": b"ab", "c": b"c"})
    ro = any_store.with_read_only()
    assert ro.read_only and not any_store.read_only
    any_store.requests.reset()
    for name, op in _write_ops(ro).items():
        with pytest.raises(ReadOnlyError):
            await op()
        assert any_store.requests.total == 0, f"{name} sent a request before refusing"
    await _assert_reads_work(ro)
    await _assert_reads_work(any_store)  # nothing changed


async def test_read_only_error_names_the_key(any_store: Store) -> None:
    ro = any_store.with_read_only()
    with pytest.raises(ReadOnlyError, match="some/key"):
        await ro.set("some/key", b"x")
    assert isinstance(ReadOnlyError("x"), PermissionError)


async def test_store_made_read_only_refuses_writes(any_store: Store) -> None:
    await any_store.set_many({"a/b": b"ab", "c": b"c"})
    ro = _rebuild(any_store, read_only=True)
    assert ro.read_only
    for op in _write_ops(ro).values():
        with pytest.raises(ReadOnlyError):
            await op()
    await _assert_reads_work(ro)


async def test_with_read_only_shares_the_limiter_and_can_be_undone(any_store: Store) -> None:
    ro = any_store.with_read_only()
    assert ro.limiter is any_store.limiter
    rw = ro.with_read_only(False)
    assert not rw.read_only and rw.limiter is any_store.limiter
    await rw.set("k", b"v")
    assert await any_store.get("k") == b"v"
    assert await ro.get("k") == b"v"  # a view of the same storage
    assert ro.with_read_only(True).read_only


# --- key refusal -----------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "..",
    "../x",
    "a/../b",
    "a/..",
    ".",
    "./a",
    "a/./b",
    "/abs",
    "/",
    "a//b",
    "//",
    "a/",
    "a\\b",
    "\\",
    "a\x00b",
    "../../../../../../tmp/escape",
]
# Prefixes may be "" (the root) and may end with one "/"; the rest of BAD_KEYS stays invalid.
BAD_PREFIXES = [p for p in BAD_KEYS if p not in ("", "a/")] + ["a//", "../"]


def _key_ops(store: Store, key: str) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "get": lambda: store.get(key),
        "get range": lambda: store.get(key, RangeByteRequest(0, 1)),
        "get_partial_values": lambda: store.get_partial_values([("ok", None), (key, None)]),
        "exists": lambda: store.exists(key),
        "getsize": lambda: store.getsize(key),
        "set": lambda: store.set(key, b"x"),
        "set_if_not_exists": lambda: store.set_if_not_exists(key, b"x"),
        "set_many": lambda: store.set_many({key: b"x"}),
        "delete": lambda: store.delete(key),
    }


async def _drain(it: Any) -> list[str]:
    return [x async for x in it]


def _prefix_ops(store: Store, prefix: str) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "list_prefix": lambda: _drain(store.list_prefix(prefix)),
        "list_dir": lambda: _drain(store.list_dir(prefix)),
        "is_empty": lambda: store.is_empty(prefix),
        "delete_dir": lambda: store.delete_dir(prefix),
    }


async def test_invalid_keys_are_refused_by_every_operation(any_store: Store) -> None:
    for key in BAD_KEYS:
        for name, op in _key_ops(any_store, key).items():
            with pytest.raises(InvalidKeyError) as info:
                await op()
            if key:
                assert repr(key) in str(info.value), (name, key, str(info.value))
    assert any_store.requests.total == 0  # refused before any request was sent
    assert [k async for k in any_store.list()] == []


async def test_batch_with_one_bad_key_does_nothing(any_store: Store) -> None:
    with pytest.raises(InvalidKeyError, match="bad//key"):
        await any_store.set_many({"good/1": b"1", "bad//key": b"2", "good/2": b"3"})
    with pytest.raises(InvalidKeyError, match="bad//key"):
        await any_store.get_partial_values([("good/1", None), ("bad//key", None)])
    assert any_store.requests.total == 0
    assert [k async for k in any_store.list()] == []


async def test_invalid_prefixes_are_refused(any_store: Store) -> None:
    await any_store.set("keep/me", b"1")
    any_store.requests.reset()
    for prefix in BAD_PREFIXES:
        for name, op in _prefix_ops(any_store, prefix).items():
            with pytest.raises(InvalidKeyError) as info:
                await op()
            assert repr(prefix) in str(info.value), (name, prefix, str(info.value))
    assert any_store.requests.total == 0
    assert [k async for k in any_store.list()] == ["keep/me"]


async def test_invalid_keys_refused_on_read_only_store_too(any_store: Store) -> None:
    ro = any_store.with_read_only()
    with pytest.raises(InvalidKeyError):
        await ro.get("../x")
    with pytest.raises((InvalidKeyError, ReadOnlyError)):
        await ro.set("../x", b"1")


# --- pickling and equality -------------------------------------------------------------------


async def test_pickle_round_trip(any_store: Store) -> None:
    await any_store.set("a/b", b"pickled")
    restored = pickle.loads(pickle.dumps(any_store))
    assert type(restored) is type(any_store)
    assert await restored.get("a/b") == b"pickled"
    assert restored.limiter is not any_store.limiter  # rebuilt, not shared across processes
    assert restored.limiter.size == any_store.limiter.size
    if isinstance(any_store, MemoryStore):
        # A dict cannot be shared across processes: the copy holds the values, apart.
        await restored.set("only/in/copy", b"1")
        assert await any_store.get("only/in/copy") is None
        return
    assert restored == any_store
    assert hash(restored) == hash(any_store)
    # The same storage, not a snapshot: writes through one are seen by the other.
    await restored.set("from/restored", b"1")
    assert await any_store.get("from/restored") == b"1"


async def test_pickle_keeps_read_only(any_store: Store) -> None:
    restored = pickle.loads(pickle.dumps(any_store.with_read_only()))
    assert restored.read_only
    with pytest.raises(ReadOnlyError):
        await restored.set("k", b"1")


def test_equality_by_configuration(any_store: Store) -> None:
    assert any_store == any_store
    assert any_store.with_read_only(False) == any_store
    assert any_store.with_read_only(True) != any_store
    assert any_store.with_read_only(True) == any_store.with_read_only(True)
    assert any_store != object()
    if not isinstance(any_store, MemoryStore):  # two MemoryStores are equal only over one dict
        twin = _rebuild(any_store)
        assert twin == any_store
        assert hash(twin) == hash(any_store)
        assert len({twin, any_store}) == 1


# --- the limiter -----------------------------------------------------------------------------


async def test_one_limiter_bounds_all_concurrent_callers(any_store: Store) -> None:
    store = _rebuild(any_store, concurrency=4)
    assert store.limiter.size == 4
    values = {f"k/{i}": str(i).encode() for i in range(50)}
    await store.set_many(values)
    store.limiter.reset_peak()

    view = store.with_read_only()  # a second caller through a view shares the same limiter

    async def list_all() -> list[str]:
        return [k async for k in view.list_prefix("k")]

    results = await asyncio.gather(
        *(store.get(k) for k in values),
        *(view.exists(k) for k in values),
        list_all(),
        store.get_partial_values([(k, None) for k in values]),
    )
    assert results[:50] == list(values.values())
    assert results[50:100] == [True] * 50
    assert sorted(results[100]) == sorted(values)
    assert results[101] == list(values.values())
    assert 1 <= store.limiter.peak_in_flight <= 4
    assert store.limiter.in_flight == 0


def test_each_store_has_its_own_limiter(any_store: Store) -> None:
    other = _rebuild(any_store)
    assert other.limiter is not any_store.limiter
    assert any_store.limiter is any_store.limiter  # not a new one per access


def test_concurrency_argument(any_store: Store) -> None:
    assert _rebuild(any_store, concurrency=3).limiter.size == 3
    with pytest.raises(ValueError, match="at least 1"):
        _rebuild(any_store, concurrency=0)


def test_concurrency_from_environment(any_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    backend_env = type(any_store).concurrency_env
    assert backend_env is not None, "every backend names its own concurrency variable"
    monkeypatch.delenv(backend_env, raising=False)
    monkeypatch.delenv(DEFAULT_CONCURRENCY_ENV, raising=False)
    assert _rebuild(any_store, concurrency=None).limiter.size == type(any_store).default_concurrency

    monkeypatch.setenv(DEFAULT_CONCURRENCY_ENV, "7")
    assert _rebuild(any_store, concurrency=None).limiter.size == 7

    monkeypatch.setenv(backend_env, "5")  # the backend's own variable wins over the generic one
    assert _rebuild(any_store, concurrency=None).limiter.size == 5

    assert _rebuild(any_store, concurrency=2).limiter.size == 2  # the argument wins over both


def test_bad_concurrency_environment_is_refused(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_env = type(any_store).concurrency_env
    assert backend_env is not None
    monkeypatch.delenv(DEFAULT_CONCURRENCY_ENV, raising=False)
    for raw in ["many", "0", "-3", "2.5"]:
        monkeypatch.setenv(backend_env, raw)
        with pytest.raises(ValueError, match=backend_env):
            _rebuild(any_store, concurrency=None)


# --- close ---------------------------------------------------------------------------------


async def test_store_is_usable_after_close(any_store: Store) -> None:
    await any_store.set("k", b"before")
    await any_store.close()
    assert await any_store.get("k") == b"before"  # reconnects on demand
    await any_store.set("k", b"after")
    await any_store.close()
    await any_store.close()  # closing twice is harmless
    assert [k async for k in any_store.list()] == ["k"]
    assert await any_store.get("k") == b"after"
