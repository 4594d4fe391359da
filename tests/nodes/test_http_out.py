"""``http-out`` against real HTTP receivers (uvicorn on loopback ports the tests control)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
import trustme

from flowengine.clock import ManualClock
from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.signing import verify
from flowengine.testing import running
from flowengine.types import JSONObject
from nodes.http_out import HttpOutNode
from tests.support.http_receiver import Received, Receiver


class SourceNode(Node):
    """Test-only source: ``emit(payload, **meta)`` sends one message and returns its delivery."""

    type = "test-http-source"
    category = "source"
    inputs = 0
    schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}

    async def emit(self, payload: Any, **meta: Any) -> Delivery:
        done = Delivery()
        done.hold()
        try:
            await self.send(Message(payload, "t", dict(meta), delivery=done))
        finally:
            done.release()
        return done


EXTRA = [SourceNode]


def document(config: JSONObject, *, debug: bool = False, disabled: bool = False) -> JSONObject:
    wires = ["out", "dbg"] if debug else ["out"]
    nodes: list[JSONObject] = [
        {"id": "src", "type": "test-http-source", "flow": "f1", "config": {}, "wires": [wires]},
        {"id": "out", "type": "http-out", "flow": "f1", "config": config, "wires": [], "disabled": disabled},
    ]
    if debug:
        nodes.append({"id": "dbg", "type": "debug", "flow": "f1", "config": {}, "wires": []})
    return {"version": 1, "flows": [{"id": "f1", "label": "t"}], "nodes": nodes}


def fast(url: str, **config: Any) -> JSONObject:
    return {"url": url, "retryInitial": 0.02, "retryMax": 0.1, "timeout": 2, **config}


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_2xx_with_routes_placeholders_headers_and_hmac(tmp_path) -> None:
    async with Receiver() as receiver:
        config = fast(receiver.url + "/hook", routes={"values": "/values/{devEui}", "alarms": "/alarms"},
                      defaultRoute="/other", headers={"X-Custom": "yes"}, secret="s3cret")
        async with running(document(config), tmp_path, extra_types=EXTRA) as (runtime, debug):
            await debug.wait_status("out", "Provisioned")
            source = runtime.node("src")
            await source.emit({"devEui": "70b3d5 7e", "v": 1}, kind="values")
            await source.emit({"devEui": "x", "v": 2}, kind="events")
            await source.emit({"v": "é"})
            requests = await receiver.wait_for(3)
            await debug.wait_status("out", "Running")
    assert [r.path for r in requests] == ["/hook/values/70b3d5 7e", "/hook/other", "/hook/other"]
    assert [r.json()["v"] for r in requests] == [1, 2, "é"]
    for request in requests:
        assert request.method == "POST" and request.headers["x-custom"] == "yes"
        assert len(request.headers["x-flowengine-message"]) == 32  # the message id, for de-duplication
        assert request.headers["content-type"] == "application/json"
        timestamp = request.headers["x-flowengine-timestamp"]
        assert verify("s3cret", timestamp, request.body, request.headers["x-flowengine-signature"], 60) is None
        assert verify("other", timestamp, request.body, request.headers["x-flowengine-signature"], 60) is not None


async def test_500_then_recovery_and_status_details(tmp_path) -> None:
    answers = iter([500, 503])

    def flaky(request: Received) -> tuple[int, dict[str, str], str]:
        return next(answers, 200), {}, "oops"

    async with Receiver(flaky) as receiver, running(document(fast(receiver.url)), tmp_path, extra_types=EXTRA) as (runtime, debug):
        await runtime.node("src").emit({"n": 1})
        await receiver.wait_for(1, status=200)
        event = await debug.wait_status("out", "Running")
        await wait_until(lambda: runtime.snapshot()["out"]["status"].get("counters", {}).get("delivered") == 1)
        status = runtime.snapshot()["out"]["status"]
    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    assert status["counters"]["failed"] == 2 and status["lastError"] == "HTTP 503: oops"
    assert status["pending"] == 0 and status["lastSuccess"] is not None
    assert event["status"]["color"] in ("green", "yellow")


async def test_429_honours_retry_after(tmp_path) -> None:
    answers = iter([(429, {"retry-after": "1"})])

    def limited(request: Received) -> tuple[int, dict[str, str], str]:
        status, headers = next(answers, (200, {}))
        return status, headers, ""

    times: list[float] = []
    async with Receiver(limited) as receiver:
        original = receiver.handler

        def timed(request: Received) -> Any:
            times.append(time.monotonic())
            return original(request)

        receiver.handler = timed
        async with running(document(fast(receiver.url)), tmp_path, extra_types=EXTRA) as (runtime, _):
            await runtime.node("src").emit({"n": 1})
            await receiver.wait_for(1, status=200)
    assert len(times) == 2 and times[1] - times[0] >= 0.95  # not the 0.02 s back-off


async def test_400_goes_to_dead_letters_and_does_not_block(tmp_path) -> None:
    def picky(request: Received) -> tuple[int, dict[str, str], Any]:
        if request.json().get("bad"):
            return 400, {}, {"error": "field bad is not allowed"}
        return 200, {}, ""

    async with Receiver(picky) as receiver, running(document(fast(receiver.url)), tmp_path, extra_types=EXTRA) as (runtime, debug):
        source = runtime.node("src")
        await source.emit({"bad": True})
        await source.emit({"n": 2})
        await receiver.wait_for(1, status=200)
        node = runtime.node("out")
        assert isinstance(node, HttpOutNode)
        await wait_until(lambda: len(node.dead_letters()) == 1)
        [dead] = node.dead_letters()
        await debug.wait_status("out", "1 dead")
        assert len(receiver.requests) == 2  # the 400 was not retried
        node.retry_dead(dead["id"])  # the cause is fixed: send it again
        await wait_until(lambda: len(receiver.requests) == 3)
        await wait_until(lambda: node.dead_letters() != [dead])
    assert json.loads(dead["item"]["body"]) == {"bad": True}
    assert dead["reason"].startswith("HTTP 400") and dead["response"]["status"] == 400
    assert "field bad is not allowed" in dead["response"]["body"]


async def test_slow_receiver_times_out_and_is_retried(tmp_path) -> None:
    async def slow_once(request: Received) -> tuple[int, dict[str, str], str]:
        if len([r for r in receiver.requests]) == 1:
            await asyncio.sleep(1.0)
        return 200, {}, ""

    async with Receiver(slow_once) as receiver, running(document(fast(receiver.url, timeout=0.2)), tmp_path, extra_types=EXTRA) as (runtime, debug):
        await runtime.node("src").emit({"n": 1})
        await wait_until(lambda: len(receiver.requests) >= 2)
        await wait_until(lambda: runtime.snapshot()["out"]["status"].get("counters", {}).get("delivered") == 1)
        status = runtime.snapshot()["out"]["status"]
    assert "within 0.2 s" in status["lastError"]


async def test_down_during_a_burst_of_1000_then_all_delivered_in_order(tmp_path) -> None:
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()  # down: connection refused on its port
    config = fast(receiver.url, retryInitial=0.05, retryMax=0.2)
    async with running(document(config, debug=True), tmp_path, extra_types=EXTRA) as (runtime, debug):
        source = runtime.node("src")
        deliveries = [await source.emit({"n": n}) for n in range(1000)]
        # the other branch got everything and every message is acked while the endpoint is down
        await debug.wait_for("dbg", count=1000)
        await wait_until(lambda: all(d.done for d in deliveries))
        assert len(receiver.requests) == 0
        await debug.wait_status("out", "waiting")
        await receiver.start()
        try:
            received = await receiver.wait_for(1000, timeout=30, status=200)
        finally:
            await receiver.stop()
    assert [r.json()["n"] for r in received] == list(range(1000))


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"auth": "basic", "username": "u", "password": "p w"}, ("authorization", "Basic " + base64.b64encode(b"u:p w").decode())),
        ({"auth": "bearer", "token": "t0k"}, ("authorization", "Bearer t0k")),
        ({"auth": "apiKey", "apiKeyHeader": "X-Api-Key", "apiKey": "k3y"}, ("x-api-key", "k3y")),
    ],
)
async def test_auth_modes(tmp_path, auth: JSONObject, expected: tuple[str, str]) -> None:
    header, value = expected

    def guarded(request: Received) -> tuple[int, dict[str, str], str]:
        return (200 if request.headers.get(header) == value else 401), {}, ""

    async with Receiver(guarded) as receiver, running(document(fast(receiver.url, **auth)), tmp_path, extra_types=EXTRA) as (runtime, _):
        await runtime.node("src").emit({"n": 1})
        requests = await receiver.wait_for(1)
    assert requests[0].answered == 200


async def test_oauth2_token_cached_and_refreshed_after_401(tmp_path) -> None:
    issued: list[str] = []
    valid: set[str] = set()

    def server(request: Received) -> tuple[int, dict[str, str], Any]:
        if request.path == "/token":
            form = dict(pair.split("=") for pair in request.body.decode().split("&"))
            good = request.headers.get("authorization") == "Basic " + base64.b64encode(b"client:secret").decode()
            if not good or form.get("grant_type") != "client_credentials" or form.get("scope") != "write":
                return 401, {}, {"error": "invalid_client"}
            token = f"tok-{len(issued) + 1}"
            issued.append(token)
            valid.add(token)
            return 200, {}, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        offered = request.headers.get("authorization", "").removeprefix("Bearer ")
        return (200 if offered in valid else 401), {}, ""

    async with Receiver(server) as receiver:
        config = fast(receiver.url + "/hook", auth="oauth2", tokenUrl=receiver.url + "/token",
                      clientId="client", clientSecret="secret", scope="write")
        async with running(document(config), tmp_path, extra_types=EXTRA) as (runtime, _):
            source = runtime.node("src")
            for n in range(3):
                await source.emit({"n": n})
            await receiver.wait_for(3 + 1, status=200)
            assert issued == ["tok-1"]
            valid.clear()  # the server revokes the token: the next request gets 401, then a new token
            await source.emit({"n": 3})
            await wait_until(lambda: len([r for r in receiver.requests if r.path == "/hook" and r.answered == 200]) == 4)
    assert issued == ["tok-1", "tok-2"]


async def test_status_provisioned_running_inactive_disabled(tmp_path) -> None:
    clock = ManualClock()
    async with Receiver() as receiver:
        config = fast(receiver.url, inactiveAfter=2 * 86400)
        async with running(document(config), tmp_path, extra_types=EXTRA, clock=clock) as (runtime, debug):
            first = await debug.wait_status("out", "Provisioned")
            assert first["status"]["color"] == "blue" and first["status"]["lastSuccess"] is None
            await runtime.node("src").emit({"n": 1})
            running_event = await debug.wait_status("out", "Running")
            assert running_event["status"]["color"] == "green"
            await clock.advance(timedelta(days=2) - timedelta(seconds=1))
            assert runtime.snapshot()["out"]["status"]["text"].startswith("Running")
            await clock.advance(timedelta(seconds=1))
            inactive = await debug.wait_status("out", "Inactive")
            assert inactive["status"]["lastSuccess"] == running_event["status"]["lastSuccess"]
            await runtime.deploy(document({**config, "enabled": False}))
            disabled = await debug.wait_status("out", "Disabled")
            assert disabled["status"]["counters"]["delivered"] == 1  # the record survived the restart
            await runtime.node("src").emit({"n": 2})
            await asyncio.sleep(0.1)
            await runtime.deploy(document(config, disabled=True))
            assert runtime.snapshot()["out"]["status"]["text"] == "Disabled"
    assert len(receiver.requests) == 1


async def test_tts_downlink_push(tmp_path) -> None:
    async with Receiver() as receiver:
        url = receiver.url + "/api/v3/as/applications/app1/webhooks/wh1/devices/eui-{devEui}/down/push"
        config = fast(url, mode="tts-downlink", auth="bearer", token="NNSXS.key")
        doc = document(config)
        doc["nodes"].append({"id": "c", "type": "catch", "flow": "f1", "config": {}, "wires": [["d"]]})
        doc["nodes"].append({"id": "d", "type": "debug", "flow": "f1", "config": {}, "wires": []})
        async with running(doc, tmp_path, extra_types=EXTRA) as (runtime, debug):
            source = runtime.node("src")
            await source.emit({"type": "downlink", "devEui": "0011223344556677", "fPort": 2, "bytes": "01ff",
                               "confirmed": True, "reference": "r1", "priority": "HIGH"})
            await source.emit({"type": "downlink", "devEui": "0011223344556677", "fPort": 0, "bytes": "01"})
            [request] = await receiver.wait_for(1)
            [error] = await debug.wait_for("d")
    assert request.path == "/api/v3/as/applications/app1/webhooks/wh1/devices/eui-0011223344556677/down/push"
    assert request.headers["authorization"] == "Bearer NNSXS.key"
    assert request.json() == {"downlinks": [{"frm_payload": "Af8=", "f_port": 2, "priority": "HIGH", "confirmed": True,
                                             "correlation_ids": ["flowengine:reference:r1"]}]}
    assert "fPort" in json.dumps(error)


async def test_missing_placeholder_fails_the_message(tmp_path) -> None:
    async with Receiver() as receiver:
        doc = document(fast(receiver.url + "/{devEui}"))
        async with running(doc, tmp_path, extra_types=EXTRA) as (runtime, debug):
            delivery = await runtime.node("src").emit({"n": 1})
            await wait_until(lambda: delivery.done)
            await wait_until(lambda: runtime.snapshot()["out"]["counters"]["errors"] == 1)
            assert "placeholder {devEui}" in runtime.snapshot()["out"]["last_error"]


def test_check_names_bad_fields() -> None:
    config = {prop: spec["default"] for prop, spec in HttpOutNode.schema["properties"].items() if "default" in spec}
    problems = HttpOutNode.check({**config, "url": "ftp://x", "auth": "oauth2"})
    assert ("/url", "not an http:// or https:// URL: 'ftp://x'") in problems
    assert {p for p, _ in problems} == {"/url", "/tokenUrl", "/clientId"}


async def test_tls_with_a_private_ca_file(tmp_path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    key_file, ca_file = tmp_path / "server.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    async with Receiver(ssl_file=str(key_file)) as receiver:
        url = receiver.url
        async with running(document(fast(url, timeout=5)), tmp_path / "a", extra_types=EXTRA) as (runtime, _):
            await runtime.node("src").emit({"n": 1})
            await wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in (runtime.snapshot()["out"]["status"].get("lastError") or ""),
                             timeout=20)
        async with running(document(fast(url, timeout=5, caFile=str(ca_file))), tmp_path / "b", extra_types=EXTRA) as (runtime, _):
            await runtime.node("src").emit({"n": 2})
            [request] = await receiver.wait_for(1, timeout=20)
    assert request.json() == {"n": 2}


@pytest.mark.slow
def test_killed_mid_outbox_and_restarted_loses_nothing(tmp_path) -> None:
    """``flowengine run`` with http-in -> http-out; the receiver is down, the process is
    SIGKILLed with 300 messages in its outbox, restarted with the receiver up: all arrive."""
    asyncio.run(_killed_mid_outbox(tmp_path))


async def _killed_mid_outbox(tmp_path) -> None:
    from tests.support.mosquitto import free_port

    receiver = Receiver()
    await receiver.start()
    await receiver.stop()
    port = free_port()
    flow = {
        "version": 1, "flows": [{"id": "f1", "label": "relay"}],
        "nodes": [
            {"id": "in", "type": "http-in", "flow": "f1", "config": {"path": "relay"}, "wires": [["out"]]},
            {"id": "out", "type": "http-out", "flow": "f1", "wires": [],
             "config": {"url": receiver.url + "/hook", "retryInitial": 0.05, "retryMax": 0.2}},
        ],
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    data = tmp_path / "data"
    command = [sys.executable, "-m", "flowengine", "--log-level", "warning", "run", str(path), "--data", str(data),
               "--port", str(port)]
    env = {**os.environ, "FLOWENGINE_SECRET": "kill-test"}

    async def started(process: asyncio.subprocess.Process, client: httpx.AsyncClient) -> None:
        async with asyncio.timeout(30):
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"flowengine exited early ({process.returncode}): {log.read_text()}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    async def stop(process: asyncio.subprocess.Process, sig: int) -> None:
        if process.returncode is None:
            process.send_signal(sig)
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    count = 300
    log = tmp_path / "flowengine.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await started(process, client)
            for n in range(count):
                answer = await client.post(f"http://127.0.0.1:{port}/in/relay", json={"n": n})
                assert answer.status_code == 200, answer.text
    finally:
        await stop(process, signal.SIGKILL)  # no graceful stop: the outbox must already hold everything
    with sqlite3.connect(data / "flowengine.db") as db:
        [(waiting,)] = db.execute("select count(*) from outbox where sink = 'out'").fetchall()
    db.close()
    assert waiting == count  # every acknowledged message was in the outbox when the process died
    await receiver.start()
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        received = await receiver.wait_for(count, timeout=60, status=200)
    finally:
        await stop(process, signal.SIGTERM)
        await receiver.stop()
    numbers = [r.json()["n"] for r in received]
    assert sorted(set(numbers)) == list(range(count))
    assert numbers == sorted(numbers)  # in order (at least once: a duplicate may follow its original)
