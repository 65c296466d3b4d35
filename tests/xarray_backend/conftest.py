"""Fixtures of the xarray backend tests.

``engine="cloudzarr"`` is found through the ``xarray.backends`` entry point declared in
pyproject.toml. An environment installed from an older checkout lacks it; then the entry point
pyproject declares is installed for the session as a distribution on ``sys.path`` (what pip
would write), so the tests always exercise the declared entry point, never a hand-made one.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr
from xarray.backends.plugins import list_engines

ROOT = Path(__file__).resolve().parents[2]


def declared_entry_point() -> str:
    """The ``cloudzarr`` xarray backend entry point declared in pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    value: str = project["entry-points"]["xarray.backends"]["cloudzarr"]
    return value


def write_entry_point(site: Path) -> None:
    """Install pyproject's ``xarray.backends`` entry point as a distribution in ``site``."""
    info = site / "cloudzarr_xarray_backend-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cloudzarr-xarray-backend\nVersion: 0.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[xarray.backends]\ncloudzarr = {declared_entry_point()}\n"
    )


@pytest.fixture(scope="session", autouse=True)
def entry_point_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """Make sure ``engine="cloudzarr"`` resolves to the entry point pyproject declares.

    Yields the folder put on ``sys.path`` for it (child processes need it on ``PYTHONPATH``
    too), or None when the environment already has the entry point.
    """
    if "cloudzarr" in list_engines():
        yield None
        return
    site = tmp_path_factory.mktemp("entry-point")
    write_entry_point(site)
    sys.path.insert(0, str(site))
    list_engines.cache_clear()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        list_engines.cache_clear()


def assert_same(got: xr.Dataset, want: xr.Dataset) -> None:
    """Identical values, dims, coords and attributes (loaded)."""
    xr.testing.assert_identical(got.load(), want.load())
