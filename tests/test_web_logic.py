"""The editor's pure JavaScript (flow-edit state, geometry, forms, debug buffer, keyed lists),
tested without a browser by node's own test runner: ``node --test web/tests/``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_editor_logic_passes_node_test() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (v20+) is not installed; the editor's unit tests need it")
    tests = sorted(str(p.relative_to(REPO)) for p in (REPO / "web" / "tests").glob("*.test.*js"))
    assert tests, "no JavaScript unit tests found in web/tests/"
    result = subprocess.run([node, "--test", *tests], cwd=REPO, capture_output=True, text=True, timeout=60)
    summary = "\n".join(line for line in result.stdout.splitlines() if line.startswith(("# ", "not ok")))
    assert result.returncode == 0, f"{summary}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert "# fail 0" in result.stdout, summary
