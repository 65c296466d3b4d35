"""zarr-python stays optional: cloudzarr and cloudzarr.interop import without it."""

from __future__ import annotations

import subprocess
import sys

# Runs in a fresh interpreter (this test process imported zarr long ago). Setting
# sys.modules["zarr"] to None makes "import zarr" fail as if zarr-python were not installed.
SCRIPT = """
import sys
import cloudzarr, cloudzarr.storage, cloudzarr.interop
print(sorted(m for m in sys.modules if m == "zarr" or m.startswith("zarr.")))
sys.modules["zarr"] = None
from cloudzarr.errors import UnsupportedError
from cloudzarr.interop import as_zarr_store
try:
    as_zarr_store(cloudzarr.storage.MemoryStore())
except UnsupportedError as exc:
    print(exc)
"""


def test_zarr_is_imported_only_on_use_and_its_absence_names_the_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    imported, message = result.stdout.strip().splitlines()
    assert imported == "[]"
    assert message.startswith("cloudzarr.interop needs zarr-python")
    assert 'pip install "cloudzarr[zarr]"' in message
