"""Every import points down the layers (docs/ARCHITECTURE.md), checked over the import graph.

Imports inside functions and under ``TYPE_CHECKING`` count too: an upward arrow hidden in a
function is still an arrow, and a circle held together by lazy imports is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cloudzarr"

#: Bottom up. A module may import from its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "config", "sync", "concurrency", "syncface", "progress"),
    ("storage",),
    ("metadata",),
    ("codecs",),
    ("nodes",),
    ("arrays",),
    ("groups",),
    ("api", "__init__"),
    ("interop", "dask", "xarray"),
    ("tools",),
]


def _layer(module: str) -> int:
    """The layer of ``cloudzarr.<first>...``."""
    first = module.split(".")[1] if "." in module else "__init__"
    for rank, names in enumerate(LAYERS):
        if first in names:
            return rank
    raise AssertionError(f"module {module} is in no layer: add its package to LAYERS")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _typing_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return found


def _imports(module: str, path: Path, *, typing: bool = True) -> set[str]:
    """What ``module`` imports from cloudzarr (``typing=False``: only what runs)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = set() if typing else _typing_only(tree)
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            targets.add(name)
    return {t for t in targets if t == "cloudzarr" or t.startswith("cloudzarr.")}


def test_every_module_is_in_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_imports_point_down() -> None:
    upward = []
    for module, path in sorted(_modules().items()):
        if module == "cloudzarr":
            continue  # the package's front door re-exports the API
        for target in sorted(_imports(module, path)):
            if target == "cloudzarr":
                upward.append(f"{module} -> cloudzarr (import the defining module instead)")
            elif _layer(target) > _layer(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    # Imports for annotations only (under TYPE_CHECKING) never run, so they cannot make a
    # circle; an import moved into a function to break one still counts.
    modules = _modules()
    graph = {
        m: {t for t in _imports(m, p, typing=False) if t in modules} for m, p in modules.items()
    }
    # Importing a package runs its __init__, which re-exports its modules: that edge is the
    # package's front door, not a cycle of its modules.
    for m in graph:
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*stack[stack.index(t) :], t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


@pytest.mark.parametrize("cloud", ["s3", "gcs", "azure"])
def test_import_cloudzarr_loads_no_cloud_sdk(cloud: str) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GCSFS_")}
    code = (
        "import sys, os, cloudzarr; "
        f"bad = [m for m in sys.modules if m.startswith('cloudzarr.storage.{cloud}')]; "
        "bad += [m for m in ('s3fs', 'gcsfs', 'adlfs', 'aiobotocore', 'azure.storage.blob') "
        "if m in sys.modules]; "
        "bad += [k for k in os.environ if k.startswith('GCSFS_')]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
