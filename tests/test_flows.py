"""Every example flow in flows/ validates, and the demo runs with no external service."""

import json
import re
from pathlib import Path

import pytest

from flowengine import document as doc
from flowengine.registry import Registry
from flowengine.testing import running
from flowengine.validation import validate

from .conftest import REPO

FLOWS = sorted((REPO / "flows").glob("*.json"))


@pytest.mark.parametrize("path", FLOWS, ids=[p.name for p in FLOWS])
def test_example_flow_validates_and_is_saved_stably(path: Path):
    document = doc.load(path)
    environ = {name: "placeholder" for name in _variables(path.read_text())}
    problems = validate(document, Registry.from_entry_points(), environ).problems
    assert problems == [], "\n".join(str(p) for p in problems)
    assert all(flow.get("info") for flow in document["flows"]), "every example flow explains itself in info"


def _variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))


async def test_demo_runs_and_produces_records(tmp_path):
    document = json.loads((REPO / "flows" / "demo.json").read_text())
    async with running(document, tmp_path) as (runtime, debug):
        records = await debug.wait_for("records", 1, timeout=5)
        assert records[0]["device"] == "0004a30b001c0530"
        assert records[0]["batteryV"] == 8.0
        assert all(entry["state"] == "running" for entry in runtime.snapshot().values())
