"""The bench's figures are true: behind a proxy adding 25 ms each way, GET p50 reads 50 ms plus
the server's own time, measured against the direct server in the same test."""

from __future__ import annotations

from typing import Any

from cloudzarr.storage import open_store
from cloudzarr.tools.bench import BenchConfig, BenchRunner
from cloudzarr.tools.proxy import run_latency_proxy
from moto_fixtures.servers import S3Server

DELAY = 0.025


async def _get_p50(url: str, options: dict[str, Any]) -> float:
    store = open_store(url, storage_options=options, concurrency=1)
    config = BenchConfig(ops=["get"], sizes=[1024], concurrency=[1], requests=20)
    try:
        (record,) = await BenchRunner(store, config).run()
    finally:
        await store.close()
    assert record.count == 20
    assert record.errors == 0
    return record.p50_ms


async def test_get_p50_behind_a_25ms_proxy(s3_server: S3Server, s3_bucket: str) -> None:
    port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    url, direct_options = f"s3://{s3_bucket}", dict(s3_server.storage_options)
    # The proxy runs on its own thread and loop, as a network would: the client's event loop
    # being busy does not delay the proxy's forwarding, and the other way round.
    with run_latency_proxy("127.0.0.1", port, delay=DELAY) as proxy:
        proxied_options = {**direct_options, "endpoint_url": proxy.url}
        direct, proxied = [], []
        # Alternate rounds, so load from elsewhere on the machine hits both alike.
        for _ in range(2):
            direct.append(await _get_p50(url, direct_options))
            proxied.append(await _get_p50(url, proxied_options))
        assert proxy.connections >= 1
    server = max(direct)
    best = min(proxied)
    # At least the 50 ms round trip; at most that plus the server's own p50 and slack for the
    # proxy's scheduling on a 2-core machine.
    assert min(proxied) >= 50.0, (proxied, direct)
    assert best <= 50.0 + server + 20.0, (proxied, direct)
