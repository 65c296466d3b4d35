"""The worked ETL example (examples/etl_dask_s3.py) at tiny size, on a real LocalCluster and moto.

It runs as its own process (a LocalCluster with processes needs a ``__main__`` guard) whose whole
output, the workers' included, is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from moto_fixtures.servers import S3Server

from .conftest import ROOT


def test_etl_example_writes_regions_and_reads_back_exactly(
    s3_server: S3Server, entry_point_site: Path | None
) -> None:
    url = f"s3://{s3_server.create_bucket()}/etl.zarr"
    paths = [str(ROOT)] + ([str(entry_point_site)] if entry_point_site else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    # Credentials from the environment, as the example recommends (none in storage_options).
    env.update(AWS_ACCESS_KEY_ID=s3_server.key, AWS_SECRET_ACCESS_KEY=s3_server.secret)
    command = [
        sys.executable, str(ROOT / "examples" / "etl_dask_s3.py"), "--url", url,
        "--endpoint-url", s3_server.endpoint_url, "--times", "24", "--lat", "6", "--lon", "8",
        "--shard-time", "8", "--chunk-time", "4",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exact"]
    assert report["regions"] == 3  # 24 times in shards of 8: three writers, one shard each
    assert report["dask_blocks"] == [3, 1, 1]  # reopened with one dask block per shard
    assert "Unclosed" not in output
    assert "Traceback" not in output
