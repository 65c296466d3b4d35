"""Every command end to end, as a user runs it: ``cloudzarr ...`` in a subprocess, against local
disk and moto's S3 server; bad URLs and options; a copy killed midway, then finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr

import cloudzarr
from moto_fixtures.servers import S3Server

ROOT = Path(__file__).resolve().parents[2]
DATA = np.arange(20 * 30, dtype="f4").reshape(20, 30)


def run(*args: str, options: dict[str, Any] | None = None, stdin: str = "") -> Any:
    command = [sys.executable, "-m", "cloudzarr.tools.cli", *args]
    for key, value in (options or {}).items():
        command += ["-o", f"{key}={value}"]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=180, cwd=ROOT
    )


def make_v2(url: str, options: dict[str, Any] | None = None) -> None:
    """A v2 hierarchy: root (attrs), temp 20x30 f4 zstd in 5x10 chunks, sub/b 7 int16."""
    group = cloudzarr.create_group(
        url, zarr_format=2, attributes={"title": "t"}, storage_options=options
    )
    temp = group.create_array(
        "temp", shape=(20, 30), dtype="f4", chunks=(5, 10), compressors=[numcodecs.Zstd()]
    )
    temp[...] = DATA
    sub = group.create_group("sub")
    b = sub.create_array("b", shape=(7,), dtype="i2", chunks=(3,))
    b[...] = np.arange(7)
    b.attrs["units"] = "m"


@pytest.fixture(params=["local", "s3"])
def hierarchy(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(url, storage options)`` of a fresh v2 hierarchy on local disk or S3."""
    if request.param == "local":
        url, options = str(tmp_path / "src.zarr"), {}
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        url, options = f"s3://{server.create_bucket()}/src.zarr", dict(server.storage_options)
    make_v2(url, options or None)
    yield url, options


def test_tree_info_ls_du_validate(hierarchy: tuple[str, dict[str, Any]]) -> None:
    url, options = hierarchy
    tree = run("tree", url, options=options)
    assert tree.returncode == 0, tree.stderr
    assert "temp (20, 30) float32" in tree.stdout and "b (7,) int16" in tree.stdout
    assert "b (7,)" not in run("tree", url, "--level", "0", options=options).stdout
    info = run("info", f"{url}/temp", options=options)
    assert info.returncode == 0, info.stderr
    assert "Chunks initialized : 12" in info.stdout and "Zstd" in info.stdout
    group_info = run("info", url, options=options).stdout
    assert "No. arrays     : 2" in group_info
    ls = run("ls", url, options=options)
    assert ls.returncode == 0, ls.stderr
    lines = [line.split() for line in ls.stdout.splitlines()[1:]]
    assert lines == [["sub", "group"], ["temp", "array", "(20,", "30)", "float32", "(5,", "10)"]]
    du = run("du", "--bytes", "--by-child", url, options=options)
    assert du.returncode == 0, du.stderr
    # 12 + 3 chunks, 5 documents (.zgroup and .zattrs at the root, .zarray for temp,
    # .zgroup for sub, .zarray and .zattrs for b).
    assert "21 objects" in du.stdout
    assert any(
        line.split()[:1] == ["temp"] and line.split()[2] == "13" for line in du.stdout.splitlines()
    )
    valid = run("validate", "--deep", url, options=options)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "OK: 4 node(s), 15 chunk(s) decoded" in valid.stdout


def test_copy_resumes_and_converts(hierarchy: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    url, options = hierarchy
    dst = tmp_path / "copy.zarr"
    first = run("cp", url, str(dst), options=options)
    assert first.returncode == 0, first.stderr
    assert "copied 21 object(s)" in first.stdout
    again = run("cp", url, str(dst), options=options)
    assert "copied 0 object(s)" in again.stdout and "skipped 21" in again.stdout
    copy = zarr.open_group(str(dst), mode="r")
    np.testing.assert_array_equal(copy["temp"][...], DATA)

    v3 = tmp_path / "v3.zarr"
    converted = run("cp", "--zarr-format", "3", url, str(v3), options=options)
    assert converted.returncode == 0, converted.stderr
    group = zarr.open_group(str(v3), mode="r")
    assert group.metadata.zarr_format == 3
    assert dict(group.attrs) == {"title": "t"}
    assert dict(group["sub/b"].attrs) == {"units": "m"}
    np.testing.assert_array_equal(group["temp"][...], DATA)
    assert type(group["temp"].compressors[0]).__name__ == "ZstdCodec"

    sharded = tmp_path / "sharded.zarr"
    done = run("cp", "--shards", "10x30", url, str(sharded), options=options)
    assert done.returncode == 0, done.stderr
    temp = zarr.open_array(str(sharded / "temp"), mode="r")
    assert temp.shards == (10, 30) and temp.chunks == (5, 10)
    np.testing.assert_array_equal(temp[...], DATA)
    # 1-dimensional sub/b does not take a 2-d shard shape: copied unsharded.
    assert zarr.open_array(str(sharded / "sub" / "b"), mode="r").shards is None


def test_consolidate_rm_mv(tmp_path: Path) -> None:
    url = str(tmp_path / "h.zarr")
    make_v2(url)
    done = run("consolidate", url)
    assert done.returncode == 0, done.stderr
    assert "consolidated 3 node(s)" in done.stdout
    assert (tmp_path / "h.zarr" / ".zmetadata").exists()

    refused = run("rm", f"{url}/temp", stdin="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert (tmp_path / "h.zarr" / "temp" / ".zarray").exists()
    removed = run("rm", "-y", f"{url}/temp")
    assert removed.returncode == 0, removed.stderr
    assert not (tmp_path / "h.zarr" / "temp").exists()
    # Removed through its parent: the consolidated metadata no longer lists it.
    consolidated = json.loads((tmp_path / "h.zarr" / ".zmetadata").read_text())["metadata"]
    assert not any(key.startswith("temp/") for key in consolidated)

    moved = run("mv", url, "sub", "moved")
    assert moved.returncode == 0, moved.stderr
    group = zarr.open_group(url, mode="r")
    np.testing.assert_array_equal(group["moved/b"][...], np.arange(7))
    assert "sub" not in group


def test_validate_reports_what_is_wrong(tmp_path: Path) -> None:
    url = tmp_path / "bad.zarr"
    make_v2(str(url))
    (url / "temp" / "1.2").write_bytes(b"not zstd at all")
    (url / "sub" / "b" / ".zattrs").write_text("{broken")
    shallow = run("validate", str(url))
    assert shallow.returncode == 1
    assert "sub/b/.zattrs" in shallow.stdout and "1 problem(s)" in shallow.stdout
    deep = run("validate", "--deep", str(url))
    assert deep.returncode == 1
    assert "temp chunk [5:10, 20:30]" in deep.stdout and "2 problem(s)" in deep.stdout


def test_bad_urls_and_options_give_one_error_line(tmp_path: Path, s3_server: S3Server) -> None:
    missing = run("ls", str(tmp_path / "nothing.zarr"))
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [missing.stderr.strip()]  # one line
    assert missing.stderr.startswith("Error: NodeNotFoundError")
    assert "Traceback" not in missing.stderr
    scheme = run("tree", "nosuch://bucket/x")
    assert scheme.returncode == 1 and scheme.stderr.startswith("Error:")
    typo = run("ls", "s3://bucket/x", "-o", "endpoint=http://127.0.0.1:9")
    assert typo.returncode == 2
    assert "did you mean 'endpoint_url'" in typo.stderr and "TypeError" not in typo.stderr
    no_bucket = run("du", "s3://no-such-bucket-here/x", options=dict(s3_server.storage_options))
    assert no_bucket.returncode == 1 and no_bucket.stderr.startswith("Error: ")
    assert len(no_bucket.stderr.strip().splitlines()) == 1, no_bucket.stderr
    assert "does not exist" in no_bucket.stderr


def test_killed_copy_never_looks_complete_and_a_rerun_finishes(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """A copy killed midway leaves chunks but no root document; the re-run skips what arrived
    and completes. A proxy adding 5 ms each way keeps the copy running long enough to kill."""
    from cloudzarr.tools.proxy import run_latency_proxy

    src = tmp_path / "many.zarr"
    data = np.arange(400 * 10, dtype="i4").reshape(400, 10)
    cloudzarr.create_array(str(src), data=data, chunks=(2, 10), zarr_format=2)  # 200 chunks
    bucket = s3_server.create_bucket()
    port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    client = s3_server.client()
    with run_latency_proxy("127.0.0.1", port, delay=0.005) as proxy:
        options = {**s3_server.storage_options, "endpoint_url": proxy.url}
        command = [sys.executable, "-m", "cloudzarr.tools.cli", "cp", "-j", "2", str(src)]
        command += [f"s3://{bucket}/dst.zarr"]
        for key, value in options.items():
            command += ["-O", f"{key}={value}"]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Wait for the condition "some chunks have arrived" (polling, not a fixed sleep).
            deadline = time.monotonic() + 120
            while client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) < 20:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert 20 <= len(keys) < 201
        assert "dst.zarr/.zarray" not in keys
        half = run("info", f"s3://{bucket}/dst.zarr", options=options)
        assert half.returncode == 1 and "NodeNotFoundError" in half.stderr
        args = ["cp", str(src), f"s3://{bucket}/dst.zarr", "-j", "8"]
        for key, value in options.items():
            args += ["-O", f"{key}={value}"]
        finished = run(*args)
    assert finished.returncode == 0, finished.stderr
    skipped = int(finished.stdout.split("skipped ")[1].split()[0])
    # Every object that had arrived is whole (an S3 PUT lands entirely or not at all): skipped.
    assert skipped >= len(keys)
    copy = cloudzarr.open_array(
        f"s3://{bucket}/dst.zarr", mode="r", storage_options=dict(s3_server.storage_options)
    )
    np.testing.assert_array_equal(copy[...], data)
