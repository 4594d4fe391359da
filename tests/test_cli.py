"""The ``flowengine`` command as a subprocess."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from flowengine.store import Store
from flowengine.testing import flow_document, free_port

from .conftest import REPO


def flowengine(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowengine", *args], capture_output=True, text=True, timeout=60, **kwargs)


def write(tmp_path, document) -> str:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def test_validate_ok_and_problems(tmp_path):
    ok = flowengine("validate", str(REPO / "flows" / "demo.json"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: 7 node(s) in 1 flow(s)")
    bad = flow_document({"id": "n3", "type": "switch", "config": {"rules": [{"op": "between"}]}, "wires": [[], [], ["zz"]]})
    result = flowengine("validate", write(tmp_path, bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("node n3 (switch): /config/rules/0/op: 'between' is not one of ['==', ")
    assert "node n3 (switch): /wires/2: output port 2 does not exist; the node has 2 output(s)" in lines
    assert "node n3 (switch): /wires/2/0: wire to missing node 'zz'" in lines


def test_validate_unreadable_json(tmp_path):
    result = flowengine("validate", write(tmp_path, '{\n  "version": 1,\n  "flows": [,]\n}'))
    assert result.returncode == 1
    assert result.stderr.strip() == "document: line 3 column 13: Expecting value"


def test_nodes_lists_types_and_schemas():
    listing = flowengine("nodes")
    assert listing.returncode == 0 and "switch" in listing.stdout
    described = json.loads(flowengine("nodes", "--json").stdout)
    inject = next(t for t in described if t["type"] == "inject")
    assert inject["schema"]["properties"]["repeat"]["default"] == 0


def test_run_refuses_an_invalid_document(tmp_path):
    result = flowengine("run", write(tmp_path, flow_document({"id": "a", "type": "ghost"})), "--data", str(tmp_path / "d"))
    assert result.returncode == 1
    assert "node a (ghost): /type: unknown node type 'ghost'" in result.stderr


def test_serve_refuses_non_loopback_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FLOWENGINE_API_TOKEN"}
    result = flowengine("serve", "--host", "0.0.0.0", "--data", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "without credentials" in result.stderr


def wait_http(url: str, timeout: float = 15) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
def test_run_drains_on_sigterm(tmp_path):
    # a message every 10 ms into a 40 ms delay: SIGTERM arrives while many are queued, and all must reach the log
    document = flow_document(
        {"id": "a", "type": "inject", "config": {"payload": 1, "repeat": 0.01}, "wires": [["slow"]]},
        {"id": "slow", "type": "delay", "config": {"milliseconds": 40}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"log": True}},
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flowengine", "run", write(tmp_path, document), "--data", str(tmp_path / "d"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(0.5)
        status = httpx.get(f"http://127.0.0.1:{port}/api/status").json()
        assert status["slow"]["queue"]["size"] > 3
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "draining and stopping the flows" in output and "stopped" in output
    assert "did not drain" not in output
    store = Store(tmp_path / "d")
    sent = store.snapshot("a")["counters"]["sent"]
    store.close()
    assert output.count("flowengine.nodes.debug: 1") == sent


@pytest.mark.slow
def test_serve_keeps_revisions_across_restarts(tmp_path):
    port = free_port()
    data = str(tmp_path / "data")
    flow = str(REPO / "flows" / "demo.json")

    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "flowengine", "serve", *extra, "--data", data, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    for arguments, expected in (((flow,), 1), ((flow,), 1), ((), 1)):
        process = start(*arguments)
        try:
            current = wait_http(f"http://127.0.0.1:{port}/api/flows").json()
            assert current["revision"] == expected
            assert len(current["document"]["nodes"]) == 7
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
        assert process.returncode == 0
