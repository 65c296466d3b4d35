"""The store suite, part 2: listings and ``delete_dir``. Runs on every store."""

from __future__ import annotations

import asyncio

from cloudzarr.storage import Store

TREE = {
    "a/b/c": b"1",
    "a/b/f": b"2",
    "a/d": b"3",
    "ab/x": b"4",  # shares the first letter of "a": must never be listed under "a/"
    "a-x/y": b"5",  # a sibling with a separator-like suffix
    "e": b"6",
}


async def _fill(store: Store, items: dict[str, bytes]) -> None:
    await store.set_many(items)


async def _list(store: Store) -> list[str]:
    return [k async for k in store.list()]


async def _list_prefix(store: Store, prefix: str) -> list[str]:
    return [k async for k in store.list_prefix(prefix)]


async def _list_dir(store: Store, prefix: str) -> list[str]:
    return [k async for k in store.list_dir(prefix)]


# --- list / list_prefix ----------------------------------------------------------------------


async def test_list_empty_store(any_store: Store) -> None:
    assert await _list(any_store) == []
    assert await _list_prefix(any_store, "") == []
    assert await _list_dir(any_store, "") == []
    assert await any_store.is_empty()
    assert await any_store.is_empty("a")


async def test_list(any_store: Store) -> None:
    await _fill(any_store, TREE)
    keys = await _list(any_store)
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(TREE)


async def test_list_prefix(any_store: Store) -> None:
    await _fill(any_store, TREE)
    expected = ["a/b/c", "a/b/f", "a/d"]
    assert sorted(await _list_prefix(any_store, "a")) == expected
    assert sorted(await _list_prefix(any_store, "a/")) == expected
    assert sorted(await _list_prefix(any_store, "a/b")) == ["a/b/c", "a/b/f"]
    assert sorted(await _list_prefix(any_store, "")) == sorted(TREE)
    assert await _list_prefix(any_store, "missing") == []
    assert await _list_prefix(any_store, "e") == []  # a key, not a prefix
    assert await _list_prefix(any_store, "a/b/c") == []


async def test_is_empty(any_store: Store) -> None:
    await _fill(any_store, TREE)
    assert not await any_store.is_empty()
    assert not await any_store.is_empty("a")
    assert not await any_store.is_empty("a/b/")
    assert await any_store.is_empty("a/b/c")
    assert await any_store.is_empty("zzz")


# --- list_dir --------------------------------------------------------------------------------


async def test_list_dir_one_level(any_store: Store) -> None:
    await _fill(any_store, TREE)
    root = await _list_dir(any_store, "")
    assert len(root) == len(set(root))  # "a" holds several keys: still listed once
    assert sorted(root) == ["a", "a-x", "ab", "e"]
    assert sorted(await _list_dir(any_store, "a/b")) == ["c", "f"]


async def test_list_dir_with_and_without_slash(any_store: Store) -> None:
    await _fill(any_store, TREE)
    plain = await _list_dir(any_store, "a")
    slashed = await _list_dir(any_store, "a/")
    assert sorted(plain) == sorted(slashed) == ["b", "d"]


async def test_list_dir_of_missing_or_value(any_store: Store) -> None:
    await _fill(any_store, TREE)
    assert await _list_dir(any_store, "missing") == []
    assert await _list_dir(any_store, "e") == []
    assert await _list_dir(any_store, "a/d") == []


async def test_list_dir_names_have_no_slashes(any_store: Store) -> None:
    await _fill(any_store, {"p/q/r/s": b"1", "p/t": b"2"})
    names = await _list_dir(any_store, "p")
    assert sorted(names) == ["q", "t"]
    assert all("/" not in n for n in names)


async def test_listing_of_2500_keys(any_store: Store) -> None:
    # More than one page on every backend that pages (S3 returns 1,000 keys per request).
    keys = [f"many/{i:05d}" for i in range(2500)]
    await any_store.set_many({k: b"" for k in keys})
    await any_store.set("other", b"x")

    listed = await _list_prefix(any_store, "many")
    assert len(listed) == 2500
    assert set(listed) == set(keys)

    everything = await _list(any_store)
    assert len(everything) == 2501
    assert set(everything) == {*keys, "other"}

    names = await _list_dir(any_store, "many/")
    assert len(names) == 2500
    assert set(names) == {k.removeprefix("many/") for k in keys}


async def test_listing_can_be_abandoned(any_store: Store) -> None:
    await _fill(any_store, TREE)
    async for _ in any_store.list():
        break
    # The abandoned listing released its limiter slot: the store still answers.
    assert any_store.limiter.in_flight == 0
    assert await any_store.get("e") == b"6"


async def test_requests_while_iterating_a_listing_with_a_limiter_of_one(
    any_store: Store,
) -> None:
    # The limiter is held per page, not while the caller consumes the listing; a caller that
    # reads each key it lists would otherwise wait forever on a limiter of size one.
    store = type(any_store)(**{**any_store._full_config(), "concurrency": 1})
    await _fill(store, TREE)

    async def read_all_listed() -> dict[str, bytes | None]:
        return {k: await store.get(k) async for k in store.list()}

    got = await asyncio.wait_for(read_all_listed(), timeout=30)
    assert got == TREE


# --- delete_dir --------------------------------------------------------------------------------


async def test_delete_dir_spares_siblings(any_store: Store) -> None:
    await _fill(any_store, TREE)
    await any_store.delete_dir("a")
    assert sorted(await _list(any_store)) == ["a-x/y", "ab/x", "e"]
    assert sorted(await _list_dir(any_store, "")) == ["a-x", "ab", "e"]
    assert await any_store.get("ab/x") == b"4"


async def test_delete_dir_with_slash(any_store: Store) -> None:
    await _fill(any_store, TREE)
    await any_store.delete_dir("a/")
    assert sorted(await _list(any_store)) == ["a-x/y", "ab/x", "e"]


async def test_delete_dir_nested(any_store: Store) -> None:
    await _fill(any_store, TREE)
    await any_store.delete_dir("a/b")
    assert sorted(await _list(any_store)) == ["a-x/y", "a/d", "ab/x", "e"]
    assert sorted(await _list_dir(any_store, "a")) == ["d"]


async def test_delete_dir_of_a_key_deletes_nothing(any_store: Store) -> None:
    # "e" is a value; nothing lies under "e/".
    await _fill(any_store, TREE)
    await any_store.delete_dir("e")
    assert sorted(await _list(any_store)) == sorted(TREE)


async def test_delete_dir_missing_is_fine(any_store: Store) -> None:
    await any_store.delete_dir("never/was")
    await _fill(any_store, TREE)
    await any_store.delete_dir("never/was")
    assert sorted(await _list(any_store)) == sorted(TREE)


async def test_delete_dir_root_empties_the_store(any_store: Store) -> None:
    await _fill(any_store, TREE)
    await any_store.delete_dir("")
    assert await _list(any_store) == []
    assert await _list_dir(any_store, "") == []
    # ...and the store is still usable afterwards.
    await any_store.set("again", b"1")
    assert await _list(any_store) == ["again"]


async def test_delete_dir_of_many_keys(any_store: Store) -> None:
    await any_store.set_many({f"big/{i // 8}/{i}": b"x" for i in range(40)})
    await any_store.set("big-sibling", b"y")
    await any_store.delete_dir("big")
    assert await _list(any_store) == ["big-sibling"]
