"""Store URLs as a newcomer types them: ``file:`` forms, a missing ``//``, no bucket, and the S3
emulator with storage_options, including a recognisable fake secret that must never show."""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import pickle
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cloudzarr
from cloudzarr.errors import (
    AccessDeniedError,
    CloudzarrError,
    InvalidArgumentError,
    InvalidStoreURLError,
    StoreNotFoundError,
    UnsupportedError,
)
from cloudzarr.storage import LocalStore, open_store
from moto_fixtures.servers import S3Server

FAKE_SECRET = "NEWUSER-FAKE-SECRET-9f3a1c7e"


@pytest.mark.parametrize("form", ["file:{p}", "FILE:{p}", "file://{p}", "{p}"])
def test_file_url_forms_name_the_same_folder(tmp_path: Path, form: str) -> None:
    cloudzarr.create_array(tmp_path / "d.zarr", name="a", data=np.arange(3))
    store = open_store(form.format(p=tmp_path / "d.zarr"))
    assert isinstance(store, LocalStore) and store.root == tmp_path / "d.zarr"
    group = cloudzarr.open_group(store, mode="r")
    np.testing.assert_array_equal(group["a"][...], np.arange(3))


@pytest.mark.parametrize(
    ("url", "fixed"),
    [("s3:/bucket/x", "s3://bucket/x"), ("s3:bucket", "s3://bucket"),
     ("gs:/b/p", "gs://b/p"), ("memory:name", "memory://name"), ("az:/c", "az://c")],
)  # fmt: skip
def test_a_url_missing_its_slashes_is_refused_not_made_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, fixed: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidStoreURLError, match=f"lacks the '//'.*write {fixed} ") as err:
        cloudzarr.open_group(url, mode="a")
    assert isinstance(err.value, ValueError)
    assert os.listdir(tmp_path) == []  # no folder called "s3:" appeared


def test_a_folder_whose_name_has_a_colon_is_still_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store("./s3:/x").root == tmp_path / "s3:" / "x"  # type: ignore[attr-defined]
    assert open_store("C:/data").root == tmp_path / "C:" / "data"  # type: ignore[attr-defined]
    assert open_store("notaprotocol:x").root == tmp_path / "notaprotocol:x"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "word"),
    [("s3://", "bucket"), ("s3:///prefix", "bucket"), ("gs://", "bucket"),
     ("gcs:///p", "bucket"), ("az://", "container"), ("abfs:///p", "container")],
)  # fmt: skip
def test_a_cloud_url_without_a_bucket_is_a_url_error(url: str, word: str) -> None:
    with pytest.raises(InvalidStoreURLError, match=f"{url!r} names no {word}"):
        open_store(url)


# --- the S3 emulator with storage_options ------------------------------------------------


def _options(server: S3Server, **changes: Any) -> dict[str, Any]:
    return {"endpoint_url": server.endpoint_url, "key": "AKIDNEWUSER", "secret": FAKE_SECRET,
            **changes}  # fmt: skip


def _everything_shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_the_secret_never_shows_in_reprs_errors_or_logs(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cloudzarr")
    bucket = s3_server.create_bucket()
    url = f"s3://{bucket}/data.zarr"
    root = cloudzarr.open_group(url, mode="w", storage_options=_options(s3_server))
    arr = root.create_array("a/b", shape=(6,), dtype="int64", chunks=(3,))
    arr[:] = np.arange(6)
    cloudzarr.consolidate_metadata(root.store)
    ro = cloudzarr.open_group(url, mode="r", storage_options=_options(s3_server))
    shown = [repr(root), repr(arr), repr(root.store), repr(ro), str(ro.tree()), str(ro.info)]
    shown += [str(arr.info), repr(ro.store), ro.store.url]  # type: ignore[attr-defined]
    failures: list[BaseException] = []
    for call in (
        lambda: ro.create_group("x"),
        lambda: ro["a/b"].__setitem__(0, 1),
        lambda: cloudzarr.open_group(
            "s3://no-such-bucket-newuser/x", mode="r", storage_options=_options(s3_server)
        ),
        lambda: cloudzarr.open_group(url, mode="r", storage_options=_options(s3_server, anon=1)),
    ):
        with pytest.raises(CloudzarrError) as err:
            call()
        failures.append(err.value)
    shown += [_everything_shown(e) for e in failures]
    shown.append(caplog.text)
    assert all(FAKE_SECRET not in text for text in shown)
    assert "no-such-bucket-newuser" in str(failures[2])
    assert isinstance(failures[2], StoreNotFoundError)
    np.testing.assert_array_equal(ro["a/b"][...], np.arange(6))
    # Pickling carries the options (dask workers rebuild the store from them), by design.
    assert FAKE_SECRET.encode() in pickle.dumps(ro.store)


def test_refused_credentials_name_the_bucket_and_key(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    cloudzarr.create_group(f"s3://{bucket}/g", storage_options=_options(s3_server))
    # moto accepts any key, but an anonymous (unsigned) request is refused.
    anonymous = {"endpoint_url": s3_server.endpoint_url, "anon": True}
    with pytest.raises(AccessDeniedError, match=f"GetObject s3://{bucket}/g/zarr.json"):
        cloudzarr.open_group(f"s3://{bucket}/g", mode="r", storage_options=anonymous)


def test_a_failed_open_from_a_url_closes_its_http_session(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp reports a session collected unclosed through asyncio's exception handler.
    caplog.set_level(logging.ERROR, logger="asyncio")
    gc.collect()  # stores earlier tests dropped are not this test's business
    caplog.clear()
    for _ in range(3):
        with pytest.raises(StoreNotFoundError):
            cloudzarr.open_group(
                "s3://no-such-bucket-newuser/x", mode="a", storage_options=_options(s3_server)
            )
        gc.collect()
    assert "Unclosed client session" not in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https://user:hunter2-FAKE@example.com/d.zarr", "https://user:***@example.com/..."),
     ("s3://AKID:hunter2-FAKE@bucket/x", "s3://AKID:***@bucket/..."),
     ("simplecache::s3://AKID:hunter2-FAKE@b/x", "simplecache::s3://AKID:***@b/...")],
)  # fmt: skip
def test_a_password_in_the_url_is_refused_and_not_repeated(url: str, shown: str) -> None:
    with pytest.raises(InvalidStoreURLError, match="carries a password") as err:
        cloudzarr.open_group(url, mode="r")
    assert shown in str(err.value)
    assert "hunter2-FAKE" not in _everything_shown(err.value)


def test_a_user_name_alone_or_an_azure_account_is_not_a_password() -> None:
    store = open_store("abfs://container@account.dfs.core.windows.net/p")
    assert repr(store) == "AzureStore('az://container/p')"


def test_a_protocol_whose_package_is_missing_is_unsupported() -> None:
    if importlib.util.find_spec("paramiko") is not None:
        pytest.skip("paramiko is installed here, so sftp:// opens")
    with pytest.raises(UnsupportedError, match=r"'sftp://user@host/p' needs a package .*paramiko"):
        open_store("sftp://user@host/p")


@pytest.mark.parametrize("value", [0, -1, "8", 2.5, True])
def test_a_bad_concurrency_is_named(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=f"concurrency must be an integer .*{value!r}"):
        open_store("memory://", concurrency=value)
