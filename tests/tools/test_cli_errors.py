"""The CLI as a newcomer meets it: a store error is one ``Error:`` line with the cause first (no
traceback, no credentials), option slips name the option, and the demo leaves nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudzarr.tools.cli import cli
from cloudzarr.tools.cli.common import parse_options as _parse_options
from cloudzarr.tools.cli.demo_cmd import compared as _compared
from moto_fixtures.servers import S3Server

FAKE_SECRET = "NEWUSER-CLI-FAKE-SECRET-41d2"


def _s3_options(server: S3Server) -> list[str]:
    return ["-o", f"endpoint_url={server.endpoint_url}", "-o", "key=AKIDCLI", "-o",
            f"secret={FAKE_SECRET}"]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "message"),
    [("s3://", "InvalidStoreURLError: store URL 's3://' names no bucket"),
     ("s3:/bucket/x", "lacks the '//' after 's3:'; write s3://bucket/x"),
     ("nosuchproto://x", "unknown protocol 'nosuchproto'")],
)  # fmt: skip
def test_a_bad_url_is_one_error_line(url: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["bench", url, "-n", "1", "--sizes", "1KiB"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_a_missing_bucket_shows_the_cause_first_and_no_secret(s3_server: S3Server) -> None:
    args = ["bench", "s3://no-such-bucket-cli/b", *_s3_options(s3_server)]
    result = CliRunner().invoke(cli, [*args, "--sizes", "1KiB", "-n", "2", "--concurrency", "1"])
    assert result.exit_code == 1, result.output
    lines = result.output[result.output.index("Error: ") :].splitlines()
    # The first write failed; the clean-up of the prefix then failed for the same reason.
    assert lines[0].startswith("Error: StoreNotFoundError: S3 bucket 'no-such-bucket-cli'")
    assert "PutObject" in lines[0]
    assert lines[1].startswith("and then: StoreNotFoundError") and "ListObjectsV2" in lines[1]
    assert FAKE_SECRET not in result.output
    assert "Traceback" not in result.output


def test_the_demo_against_a_missing_bucket_is_one_error(s3_server: S3Server) -> None:
    args = ["demo", "--url", "s3://no-such-bucket-cli/demo", *_s3_options(s3_server)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "Error: StoreNotFoundError: S3 bucket 'no-such-bucket-cli' does not exist" in (
        result.output
    )
    assert FAKE_SECRET not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["a", "1,x", "1.5"])
def test_a_bad_concurrency_names_the_option(value: str) -> None:
    result = CliRunner().invoke(cli, ["bench", "memory://", "--concurrency", value])
    assert result.exit_code == 2
    assert "Invalid value for --concurrency" in result.output
    assert "is not a comma-separated list of integers" in result.output


def test_the_demo_on_a_local_folder_leaves_only_what_was_there(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("kept")
    result = CliRunner().invoke(cli, ["demo", "--url", str(tmp_path), "--latency", "0"])
    assert result.exit_code == 0, result.output
    assert "removed " in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_the_walk_comparison_reads_right_either_way() -> None:
    assert _compared(2.4, 1.0) == "2.4x longer"
    assert _compared(0.5, 1.0).startswith("2.0x shorter")
    assert _compared(1.0, 0.0) == "no comparable time"


def test_credentials_and_projects_stay_text_other_options_are_converted() -> None:
    options = _parse_options(
        ("secret=0123456", "key=42", "project=123456789012", "anon=true", "max_paths=4",
         "use_ssl=False", "endpoint_url=http://127.0.0.1:9000")
    )  # fmt: skip
    assert options == {
        "secret": "0123456", "key": "42", "project": "123456789012", "anon": True,
        "max_paths": 4, "use_ssl": False, "endpoint_url": "http://127.0.0.1:9000",
    }  # fmt: skip


def test_an_all_digit_secret_reaches_the_server_as_text(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    args = ["bench", f"s3://{bucket}/b", "-o", f"endpoint_url={s3_server.endpoint_url}",
            "-o", "key=1234", "-o", "secret=0042", "--ops", "put", "--sizes", "1KiB",
            "-n", "2", "--concurrency", "1"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "│ put" in result.output and "0042" not in result.output


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [("--json", "missing/out.json", "the folder .* does not exist"),
     ("--plot", "missing/out.png", "the folder .* does not exist"),
     ("--plot", "out.txt", "has no image suffix; end it in one of .png")],
)  # fmt: skip
def test_an_output_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, option: str, name: str, message: str
) -> None:
    target = tmp_path / "bench-data"
    args = ["bench", str(target), option, str(tmp_path / name), "-n", "1", "--sizes", "1KiB"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert f"Invalid value for {option}" in result.output
    assert re.search(message, result.output)
    assert not target.exists()  # nothing was measured, so nothing was written


def test_keep_without_a_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["demo", "--keep"])
    assert result.exit_code == 2
    assert "--keep applies only with --url" in result.output
