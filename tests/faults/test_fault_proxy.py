"""The fault proxy itself, driven with plain HTTP/1.1 through it to moto: each fault does what its
name says, per request on one keep-alive connection, and the server sees what it should."""

from __future__ import annotations

import concurrent.futures
import http.client
import socket

import pytest

from cloudzarr.tools.faultproxy import Fault, FaultPlan, FaultProxy, run_fault_proxy
from moto_fixtures.servers import S3Server, host_port

#: moto checks no signature but treats a request without credentials as anonymous (403 on reads).
AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
}


class Connection(http.client.HTTPConnection):
    """An HTTP/1.1 connection that sends moto's idea of credentials with every request."""

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().request(method, url, body=body, headers={**AUTH, **(headers or {})})


def connect(proxy: FaultProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return Connection("127.0.0.1", proxy.port, timeout=timeout)


def put(conn: http.client.HTTPConnection, path: str, body: bytes) -> int:
    conn.request("PUT", path, body=body)
    answer = conn.getresponse()
    answer.read()
    return answer.status


def server_get(server: S3Server, bucket: str, key: str) -> bytes | None:
    host, port = host_port(server.endpoint_url)
    conn = Connection(host, port, timeout=5)
    conn.request("GET", f"/{bucket}/{key}")
    answer = conn.getresponse()
    body = answer.read()
    return body if answer.status == 200 else None


def test_faults_are_per_request_on_one_keep_alive_connection(
    s3_server: S3Server, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> None:
    s3_fault_proxy.plan = FaultPlan(schedule=[None, Fault.ERROR_500, Fault.THROTTLE, None])
    conn = connect(s3_fault_proxy)
    assert put(conn, f"/{s3_bucket}/a", b"one") == 200
    conn.request("GET", f"/{s3_bucket}/a")
    failed = conn.getresponse()
    assert (failed.status, b"<Code>InternalError</Code>" in failed.read()) == (500, True)
    conn.request("HEAD", f"/{s3_bucket}/a")
    throttled = conn.getresponse()
    assert (throttled.status, throttled.read()) == (503, b"")  # a HEAD answer has no body
    conn.request("GET", f"/{s3_bucket}/a")
    ok = conn.getresponse()
    assert (ok.status, ok.read()) == (200, b"one")
    conn.close()
    assert s3_fault_proxy.stats == {"requests": 4, "500": 1, "throttle": 1}


def test_throttle_bodies_follow_the_cloud(s3_server: S3Server) -> None:
    host, port = host_port(s3_server.endpoint_url)
    expected = {
        "s3": (503, b"<Code>SlowDown</Code>"),
        "gcs": (429, b"rateLimitExceeded"),
        "azure": (503, b"<Code>ServerBusy</Code>"),
    }
    for flavour, (status, marker) in expected.items():
        plan = FaultPlan(rates={Fault.THROTTLE: 1.0})
        with run_fault_proxy(host, port, plan, flavour=flavour) as proxy:  # type: ignore[arg-type]
            conn = connect(proxy)
            conn.request("GET", "/")
            answer = conn.getresponse()
            assert (answer.status, marker in answer.read()) == (status, True)
            if flavour == "azure":
                assert answer.getheader("x-ms-error-code") == "ServerBusy"


def test_reset_never_reaches_the_server(
    s3_server: S3Server, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> None:
    s3_fault_proxy.plan = FaultPlan(schedule=[Fault.RESET])
    conn = connect(s3_fault_proxy)
    with pytest.raises(ConnectionResetError):
        put(conn, f"/{s3_bucket}/r", b"x")
    assert server_get(s3_server, s3_bucket, "r") is None


def test_lost_response_is_applied_by_the_server(
    s3_server: S3Server, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> None:
    s3_fault_proxy.plan = FaultPlan(schedule=[Fault.LOST])
    conn = connect(s3_fault_proxy)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        put(conn, f"/{s3_bucket}/lost", b"landed")
    assert server_get(s3_server, s3_bucket, "lost") == b"landed"


def test_truncated_body_is_short(
    s3_server: S3Server, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> None:
    conn = connect(s3_fault_proxy)
    assert put(conn, f"/{s3_bucket}/big", bytes(range(256)) * 400) == 200
    s3_fault_proxy.plan = FaultPlan(schedule=[Fault.TRUNCATE])
    conn.request("GET", f"/{s3_bucket}/big")
    answer = conn.getresponse()
    assert answer.getheader("Content-Length") == str(256 * 400)
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        answer.read()


def test_stall_never_answers(s3_bucket: str, s3_fault_proxy: FaultProxy) -> None:
    s3_fault_proxy.plan = FaultPlan(rates={Fault.STALL: 1.0})
    conn = connect(s3_fault_proxy, timeout=0.3)
    conn.request("GET", f"/{s3_bucket}/anything")
    with pytest.raises(socket.timeout):
        conn.getresponse()
    assert s3_fault_proxy.stats["stall"] == 1


def test_rates_are_drawn_from_the_seed(s3_bucket: str, s3_fault_proxy: FaultProxy) -> None:
    def statuses() -> list[int]:
        s3_fault_proxy.plan = FaultPlan(rates={Fault.ERROR_500: 0.3}, seed=7)
        conn = connect(s3_fault_proxy)
        out = []
        for _ in range(40):
            conn.request("GET", f"/{s3_bucket}?list-type=2")
            answer = conn.getresponse()
            answer.read()
            out.append(answer.status)
        return out

    first = statuses()
    assert first == statuses()
    assert 4 <= first.count(500) <= 20 and set(first) == {200, 500}


def test_methods_limit_which_requests_fail(s3_bucket: str, s3_fault_proxy: FaultProxy) -> None:
    s3_fault_proxy.plan = FaultPlan(rates={Fault.ERROR_500: 1.0}, methods=frozenset({"PUT"}))
    conn = connect(s3_fault_proxy)
    assert put(conn, f"/{s3_bucket}/m", b"x") == 500
    conn.request("GET", f"/{s3_bucket}?list-type=2")
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 200


def test_throttle_above_n_in_flight(s3_bucket: str, s3_fault_proxy: FaultProxy) -> None:
    # Latency keeps requests in flight together; 8 at once with room for 3.
    s3_fault_proxy.plan = FaultPlan(latency=0.3, throttle_above=3)

    def one(_: int) -> int:
        conn = connect(s3_fault_proxy)
        conn.request("GET", f"/{s3_bucket}?list-type=2")
        answer = conn.getresponse()
        answer.read()
        return answer.status

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(8)))
    assert statuses.count(503) == s3_fault_proxy.stats["throttled"] >= 1
    assert statuses.count(200) >= 3
    assert statuses.count(200) + statuses.count(503) == 8


def test_plan_json_round_trip() -> None:
    plan = FaultPlan(
        rates={Fault.LOST: 0.1},
        schedule=[None, Fault.STALL],
        methods=frozenset({"PUT"}),
        latency=0.01,
        tail_rate=0.01,
        tail_latency=0.5,
        throttle_above=4,
        seed=3,
    )
    assert FaultPlan.from_json(plan.to_json()) == plan
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultPlan(rates={Fault.LOST: 0.7, Fault.RESET: 0.7})


def test_slow_body_sends_half_then_nothing(
    s3_server: S3Server, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> None:
    conn = connect(s3_fault_proxy, timeout=0.5)
    assert put(conn, f"/{s3_bucket}/slow", bytes(1000)) == 200
    s3_fault_proxy.plan = FaultPlan(schedule=[Fault.SLOW_BODY])
    conn.request("GET", f"/{s3_bucket}/slow")
    answer = conn.getresponse()
    assert (answer.status, answer.read(500)) == (200, bytes(500))
    with pytest.raises(TimeoutError):
        answer.read(1)
