"""The emulator launcher (moto_fixtures.servers): failures carry the server's log."""

from __future__ import annotations

import sys

import pytest

from moto_fixtures.servers import ServerStartError, _run_process, free_port


def test_a_server_that_exits_reports_its_log() -> None:
    command = [sys.executable, "-c", "print('boom: port already taken'); raise SystemExit(3)"]
    with (
        pytest.raises(ServerStartError, match="exited with code 3") as info,
        _run_process("fake server", command, f"http://127.0.0.1:{free_port()}/"),
    ):
        pass
    assert "boom: port already taken" in str(info.value)


def test_a_missing_binary_is_a_clear_error() -> None:
    with (
        pytest.raises(ServerStartError, match="could not be started"),
        _run_process("ghost", ["/nonexistent/server-binary"], "http://127.0.0.1:1/"),
    ):
        pass


def test_server_process_group_is_killed_on_exit() -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with _run_process("http.server", command, f"http://127.0.0.1:{port}/") as proc:
        assert proc.poll() is None
    assert proc.poll() is not None
