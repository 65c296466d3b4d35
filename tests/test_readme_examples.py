"""The self-contained Python examples of the README and docs/ run as written, each in a fresh
interpreter, as a newcomer would paste them: those that start their own S3 emulator (so they need
no account and no set-up) and those on memory://. Examples written
for a real cloud account (empty storage_options, "the usual AWS way") are not run here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    pages = [README, *sorted((README.parent / "docs").glob("*.md"))]
    blocks = [
        b
        for page in pages
        for b in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    ]
    return [b for b in blocks if "run_moto_server" in b or 'open_store("memory://")' in b]


def test_the_readme_has_its_examples_and_quick_start() -> None:
    text = README.read_text()
    assert "```sh\nmake demo\nmake test\n```" in text
    assert len(_python_blocks()) >= 2


@pytest.mark.timeout(180)
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_a_readme_example_runs_verbatim(index: int, tmp_path: Path) -> None:
    code = _python_blocks()[index]
    statements = "\n".join(line.split("#", 1)[0] for line in code.splitlines())
    assert "..." not in statements, "a placeholder a newcomer cannot run"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=170
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "Unclosed client session" not in result.stderr
    if "print(ro.tree())" in code:
        assert "└── temperature (365, 180, 360) float32" in result.stdout
    if "store.report()" in code:
        assert re.search(r"^set\s+\d+\s+0\s", result.stdout, flags=re.MULTILINE)


def test_every_error_class_in_the_errors_guide_exists() -> None:
    import cloudzarr.errors

    guide = (README.parent / "docs" / "ERRORS.md").read_text()
    named = set(re.findall(r"`([A-Z][A-Za-z]+Error)`", guide))
    builtin = {"ValueError", "TypeError", "KeyError", "FileExistsError", "FileNotFoundError",
               "PermissionError", "IndexError", "NotImplementedError"}  # fmt: skip
    botocore = {"NoCredentialsError", "EndpointConnectionError"}  # quoted from the S3 client
    ours = named - builtin - botocore
    assert len(ours) >= 15
    for name in ours:
        cls = getattr(cloudzarr.errors, name, None)
        assert cls is not None and issubclass(cls, cloudzarr.errors.CloudzarrError), name
