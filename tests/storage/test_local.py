"""What only ``LocalStore`` must do: stay inside its root, write atomically, hide temp files."""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cloudzarr.errors import InvalidKeyError, KeyNotFoundError, StoreError
from cloudzarr.storage import LocalStore, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from cloudzarr.storage.local import TEMP_PREFIX


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symbolic links not followed), by relative path."""
    found: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath, name)
            if not path.is_symlink():
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the store's root, holding a file the store must never touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret").write_bytes(b"do not touch")
    return folder


# --- staying inside the root -----------------------------------------------------------------


async def test_dotdot_keys_write_nothing_outside(tmp_path: Path, outside: Path) -> None:
    store = LocalStore(tmp_path / "root")
    before = _tree(tmp_path)
    for key in ["../escape", "../outside/secret", "a/../../escape", "/tmp/escape", "..\\escape"]:
        with pytest.raises(InvalidKeyError):
            await store.set(key, b"x")
        with pytest.raises(InvalidKeyError):
            await store.delete(key)
    with pytest.raises(InvalidKeyError):
        await store.delete_dir("../outside")
    assert _tree(tmp_path) == before
    assert not (tmp_path / "root").exists()


async def test_symlinked_folder_out_of_root_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = LocalStore(root)

    ops = {
        "set": store.set("link/new", b"x"),
        "set over": store.set("link/secret", b"overwritten"),
        "set_if_not_exists": store.set_if_not_exists("link/new", b"x"),
        "get": store.get("link/secret"),
        "exists": store.exists("link/secret"),
        "getsize": store.getsize("link/secret"),
        "delete": store.delete("link/secret"),
        "delete_dir": store.delete_dir("link"),
    }
    for name, op in ops.items():
        with pytest.raises(InvalidKeyError, match="outside the store root"):
            await op
        assert _tree(outside) == {"secret": b"do not touch"}, name
    with pytest.raises(InvalidKeyError):
        [k async for k in store.list_prefix("link")]
    # Listings of the root do not descend into the link.
    assert [k async for k in store.list()] == []
    assert (root / "link").is_symlink()


async def test_symlinked_file_out_of_root_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").symlink_to(outside / "secret")
    store = LocalStore(root)
    with pytest.raises(InvalidKeyError):
        await store.get("f")
    with pytest.raises(InvalidKeyError):
        await store.set("f", b"overwritten")
    assert (outside / "secret").read_bytes() == b"do not touch"


async def test_root_may_itself_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    store = LocalStore(tmp_path / "alias")
    await store.set("a/b", b"1")
    assert (real / "a" / "b").read_bytes() == b"1"
    assert [k async for k in store.list()] == ["a/b"]


async def test_reserved_temp_names_are_refused(local_store: LocalStore) -> None:
    with pytest.raises(InvalidKeyError, match="reserved"):
        await local_store.set(f"a/{TEMP_PREFIX}x", b"1")
    with pytest.raises(InvalidKeyError, match="reserved"):
        await local_store.get(f"{TEMP_PREFIX}x")


# --- missing root, folders -------------------------------------------------------------------


async def test_missing_root_reads_as_empty_and_is_created_on_write(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet"
    store = LocalStore(root)
    assert await store.get("k") is None
    assert not await store.exists("k")
    with pytest.raises(KeyNotFoundError):
        await store.getsize("k")
    assert [k async for k in store.list()] == []
    assert [k async for k in store.list_dir("")] == []
    await store.delete("k")
    await store.delete_dir("")
    await store.delete_dir("a")
    assert not root.exists()  # reads and no-op deletes create nothing

    await store.set("k", b"v")
    assert (root / "k").read_bytes() == b"v"


async def test_deletes_prune_empty_folders_but_keep_the_root(local_store: LocalStore) -> None:
    root = local_store.root
    await local_store.set_many({"a/b/c/d": b"1", "a/x": b"2", "e": b"3"})
    await local_store.delete("a/b/c/d")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "x").exists()
    await local_store.delete_dir("a")
    assert not (root / "a").exists()
    await local_store.delete_dir("")
    assert root.is_dir()
    assert list(root.iterdir()) == []


async def test_a_key_cannot_be_both_a_value_and_a_folder(local_store: LocalStore) -> None:
    await local_store.set("a/b", b"1")
    with pytest.raises(StoreError, match="'a'"):
        await local_store.set("a", b"2")
    with pytest.raises(StoreError, match="'a'"):
        await local_store.set_if_not_exists("a", b"2")
    await local_store.set("v", b"3")
    with pytest.raises(StoreError, match="'v/w'"):
        await local_store.set("v/w", b"4")
    assert sorted([k async for k in local_store.list()]) == ["a/b", "v"]
    assert _tree(local_store.root) == {"a/b": b"1", "v": b"3"}


# --- atomicity -------------------------------------------------------------------------------


async def test_reader_never_sees_a_partial_value(local_store: LocalStore) -> None:
    size = 2 * 1024 * 1024
    values = [bytes([i]) * size for i in range(1, 4)]
    await local_store.set("v", values[0])
    done = asyncio.Event()
    reads: list[int] = []

    async def writer() -> None:
        try:
            for round_ in range(24):
                await local_store.set("v", values[round_ % len(values)])
        finally:
            done.set()

    async def reader() -> None:
        while not done.is_set():
            got = await local_store.get("v")
            assert got in values, f"partial read of {0 if got is None else len(got)} bytes"
            tail = await local_store.get("v", SuffixByteRequest(3))
            assert tail in (b"\x01" * 3, b"\x02" * 3, b"\x03" * 3)
            reads.append(1)

    await asyncio.gather(writer(), reader(), reader())
    assert reads  # the readers did run while the writer wrote
    assert [p.name for p in local_store.root.iterdir()] == ["v"]  # no temp file left behind


def test_atomic_create_across_threads_and_stores(tmp_path: Path) -> None:
    # Separate threads, each with its own event loop and its own LocalStore over one root: as
    # close to separate processes as a test gets without forking. Every round, 8 threads x 4
    # creators start together on a new key; exactly one of the 32 may win each round.
    root = tmp_path / "root"
    rounds = 25
    barrier = threading.Barrier(8)
    results: dict[int, list[tuple[bool, bytes]]] = {r: [] for r in range(rounds)}
    lock = threading.Lock()

    def creator(t: int) -> None:
        store = LocalStore(root)

        async def run_rounds() -> None:
            for r in range(rounds):
                values = [f"round {r} thread {t} creator {i}".encode() for i in range(4)]
                barrier.wait()  # blocks this thread's own loop only: lines the threads up
                creates = (store.set_if_not_exists(f"k{r}/zarr.json", v) for v in values)
                outcome = await asyncio.gather(*creates)
                with lock:
                    results[r].extend(zip(outcome, values, strict=True))

        asyncio.run(run_rounds())

    threads = [threading.Thread(target=creator, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for r, outcomes in results.items():
        winners = [value for won, value in outcomes if won]
        assert len(outcomes) == 32
        assert len(winners) == 1, f"round {r}: {len(winners)} creators were told they won"
        assert (root / f"k{r}" / "zarr.json").read_bytes() == winners[0]
        assert [p.name for p in (root / f"k{r}").iterdir()] == ["zarr.json"]


# --- temp files ------------------------------------------------------------------------------


async def test_leftover_temp_files_are_never_listed(local_store: LocalStore) -> None:
    await local_store.set_many({"a/b": b"1", "c": b"2"})
    # What a writer killed between writing and renaming leaves behind.
    (local_store.root / f"{TEMP_PREFIX}dead").write_bytes(b"junk")
    (local_store.root / "a" / f"{TEMP_PREFIX}dead").write_bytes(b"junk")
    assert sorted([k async for k in local_store.list()]) == ["a/b", "c"]
    assert sorted([k async for k in local_store.list_prefix("a")]) == ["a/b"]
    assert sorted([k async for k in local_store.list_dir("")]) == ["a", "c"]
    assert [k async for k in local_store.list_dir("a")] == ["b"]
    await local_store.delete_dir("")
    assert list(local_store.root.iterdir()) == []


async def test_temp_files_of_concurrent_writes_are_never_listed(local_store: LocalStore) -> None:
    done = asyncio.Event()
    seen: set[str] = set()

    async def writer() -> None:
        try:
            for round_ in range(6):
                await local_store.set_many({f"d/{i}": bytes(20_000) for i in range(40)})
                await local_store.set_many({f"{i}": bytes([round_]) for i in range(40)})
        finally:
            done.set()

    async def lister() -> None:
        while not done.is_set():
            seen.update([k async for k in local_store.list()])
            seen.update([k async for k in local_store.list_dir("d")])

    await asyncio.gather(writer(), lister())
    assert seen
    assert not [name for name in seen if TEMP_PREFIX in name]


# --- reads ---------------------------------------------------------------------------------


async def test_range_reads_read_only_the_needed_bytes(local_store: LocalStore) -> None:
    io_stats = Path("/proc/self/io")
    if not io_stats.exists():
        pytest.skip("needs /proc/self/io to count bytes read")
    size = 32 * 1024 * 1024
    await local_store.set("big", os.urandom(size))

    def bytes_read() -> int:
        for line in io_stats.read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise AssertionError("no rchar in /proc/self/io")

    for request in (RangeByteRequest(size // 2, size // 2 + 100), SuffixByteRequest(100)):
        before = bytes_read()
        got = await local_store.get("big", request)
        assert got is not None and len(got) == 100
        assert bytes_read() - before < 1024 * 1024, request
    before = bytes_read()
    assert await local_store.get("big", OffsetByteRequest(size - 10)) is not None
    assert bytes_read() - before < 1024 * 1024


async def test_limiter_holds_four_requests_in_flight(local_store: LocalStore) -> None:
    store = LocalStore(local_store.root, concurrency=4)
    await store.set_many({f"k{i}": b"x" for i in range(50)})
    store.limiter.reset_peak()
    await asyncio.gather(*(store.get(f"k{i}") for i in range(50)))
    # File I/O runs in threads, so requests really overlap, up to the limit and no further.
    assert store.limiter.peak_in_flight == 4


# --- configuration -------------------------------------------------------------------------


def test_equality_and_pickling_by_absolute_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = LocalStore("store")
    assert relative == LocalStore(tmp_path / "store") == LocalStore(str(tmp_path / "store"))
    assert relative == LocalStore(f"{tmp_path}/x/../store")
    assert relative != LocalStore(tmp_path / "other")
    assert relative != LocalStore(tmp_path / "store", read_only=True)
    assert relative.root == tmp_path / "store"
    restored = pickle.loads(pickle.dumps(relative))
    monkeypatch.chdir("/")
    assert restored == relative
    assert restored.root == tmp_path / "store"  # an absolute path, whatever the cwd now
    assert repr(relative) == f"LocalStore({str(tmp_path / 'store')!r})"


def test_local_concurrency_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDZARR_CONCURRENCY", raising=False)
    monkeypatch.delenv("CLOUDZARR_LOCAL_CONCURRENCY", raising=False)
    assert LocalStore(tmp_path).limiter.size == 32
    monkeypatch.setenv("CLOUDZARR_LOCAL_CONCURRENCY", "9")
    assert LocalStore(tmp_path).limiter.size == 9


async def test_os_errors_become_store_errors_naming_the_key(local_store: LocalStore) -> None:
    key = "a/" + "n" * 300  # longer than any file name the file system allows
    with pytest.raises(StoreError, match="nnnn") as info:
        await local_store.set(key, b"1")
    assert not isinstance(info.value, InvalidKeyError)
    with pytest.raises(StoreError, match="nnnn"):
        await local_store.get(key)
    assert [k async for k in local_store.list()] == []


async def test_writes_racing_delete_dir_never_fail(local_store: LocalStore) -> None:
    # delete_dir removes folders that writers are about to use, and writers fill folders that
    # delete_dir is removing. Neither side may fail; writes after the last delete_dir survive.
    done = asyncio.Event()
    deletes = 0

    async def writer() -> None:
        try:
            for round_ in range(15):
                await local_store.set_many({f"p/{i % 3}/{round_}-{i}": b"x" for i in range(12)})
        finally:
            done.set()

    async def deleter() -> None:
        nonlocal deletes
        while not done.is_set():
            await local_store.delete_dir("p")
            deletes += 1

    await asyncio.gather(writer(), deleter())
    assert deletes > 0
    await local_store.set("p/last", b"1")
    assert await local_store.get("p/last") == b"1"
    await local_store.delete_dir("p")
    assert [k async for k in local_store.list()] == []
    assert list(local_store.root.iterdir()) == []


# --- races with a process swapping folders for links -----------------------------------------


async def test_folder_swapped_for_a_symlink_never_lets_a_write_out(
    tmp_path: Path, outside: Path
) -> None:
    # A real attacker process keeps replacing root/d with a link to `outside` (then removing
    # it) while this process writes, creates, reads and deletes thousands of keys under d/.
    # Whatever each operation meets (the folder, the link, nothing), nothing outside the root
    # may change. Against a store that checks a resolved path and then opens by path, this
    # test finds files in `outside` on every run.
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    store = LocalStore(root)
    attacker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).parent / "symlink_attacker.py"),
        str(root),
        "d",
        str(outside),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert attacker.stdin is not None and attacker.stdout is not None
    assert await attacker.stdout.readline() == b"ready\n"
    refused = 0
    done = 0

    async def op(coro: Any) -> None:
        nonlocal refused, done
        try:
            await coro
            done += 1
        except StoreError:  # InvalidKeyError when the link is met, or a vanished folder
            refused += 1

    try:
        for batch in range(12):
            keys = [f"d/k{batch}-{i}" for i in range(150)] + [
                f"d/s/k{batch}-{i}" for i in range(50)
            ]
            await asyncio.gather(
                *(op(store.set(k, b"x")) for k in keys),
                *(op(store.set_if_not_exists(f"d/new{batch}-{i}", b"x")) for i in range(50)),
                *(op(store.delete("d/secret")) for _ in range(10)),
                *(op(store.get("d/secret")) for _ in range(10)),
            )
            await op(store.delete_dir("d/s"))
    finally:
        attacker.stdin.close()
        swaps = int((await attacker.stdout.readline()).decode())
        await attacker.wait()
    print(f"{swaps} swaps, {done} operations done, {refused} refused")
    assert _tree(outside) == {"secret": b"do not touch"}  # 0 escapes
    assert done + refused == 12 * (200 + 50 + 20 + 1)
    # The race was real: the attacker swapped many times, and some operations met the link.
    assert swaps > 100
    assert refused > 0
    assert done > 0


async def test_links_below_the_root_are_refused_even_pointing_inside(tmp_path: Path) -> None:
    # A link inside the root to a folder inside the root is refused too: only a descriptor
    # walk that follows no link at all is free of the check-then-open race.
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "v").write_bytes(b"1")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    store = LocalStore(root)
    for coro in (store.get("alias/v"), store.set("alias/w", b"2"), store.exists("alias/v")):
        with pytest.raises(InvalidKeyError, match="symbolic link at 'alias'"):
            await coro
    assert [k async for k in store.list()] == ["real/v"]
    assert await store.get("real/v") == b"1"
    await store.delete_dir("")
    assert _tree(root) == {} and not (root / "alias").exists()


async def test_deletes_remove_links_inside_never_what_they_point_to(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "root"
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "e" / "v").write_bytes(b"1")
    (root / "d" / "e" / "to-outside").symlink_to(outside, target_is_directory=True)
    (root / "d" / "secret-link").symlink_to(outside / "secret")
    store = LocalStore(root)
    assert [k async for k in store.list()] == ["d/e/v"]  # links are not keys
    await store.delete_dir("d")
    assert not (root / "d").exists()
    assert _tree(outside) == {"secret": b"do not touch"}


async def test_a_fifo_where_a_value_should_be_reads_as_missing(local_store: LocalStore) -> None:
    # Opening a FIFO for reading blocks until a writer comes; the store must not wait for one.
    await local_store.set("a/v", b"1")
    os.mkfifo(local_store.root / "a" / "fifo")
    assert await local_store.get("a/fifo") is None
    assert await local_store.get_with_version("a/fifo") is None
    assert not await local_store.exists("a/fifo")
    assert [k async for k in local_store.list()] == ["a/v"]
