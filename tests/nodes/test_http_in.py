"""``http-in`` on the real server (``flowengine.testing.serving``): acceptance, refusals, auth."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx

from flowengine import document as doc
from flowengine.message import Message
from flowengine.node import Node
from flowengine.signing import sign, verify
from flowengine.testing import serving
from flowengine.types import JSONObject
from tests.support.http_receiver import Receiver

EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "http-webhook.json"


class FailNode(Node):
    """Test-only: fails every message whose payload has ``fail``."""

    type = "test-http-fail"
    schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}

    async def on_message(self, msg: Message) -> Message:
        if isinstance(msg.payload, dict) and msg.payload.get("fail"):
            raise ValueError("this message is refused")
        return msg


def document(config: JSONObject, *, delay_ms: int = 0, catch: bool = False) -> JSONObject:
    nodes: list[JSONObject] = [
        {"id": "in", "type": "http-in", "flow": "f1", "config": config, "wires": [["slow"]]},
        {"id": "slow", "type": "delay", "flow": "f1", "config": {"milliseconds": delay_ms}, "wires": [["check"]]},
        {"id": "check", "type": "test-http-fail", "flow": "f1", "config": {}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "flow": "f1", "config": {"property": ""}, "wires": []},
    ]
    if catch:
        nodes.append({"id": "c", "type": "catch", "flow": "f1", "config": {}, "wires": [[]]})
    return {"version": 1, "flows": [{"id": "f1", "label": "t"}], "nodes": nodes}


def serve(doc: JSONObject, tmp_path: Any) -> Any:
    return serving(doc, tmp_path, editor=False, extra_types=[FailNode])


async def test_accepts_json_once_the_flow_accepted_it(tmp_path) -> None:
    async with serve(document({"path": "ttn/up"}, delay_ms=300), tmp_path) as served, httpx.AsyncClient() as client:
        started = time.monotonic()
        answer = await client.post(served.url + "/in/ttn/up?x=1", json={"devEui": "01"},
                                   headers={"x-request-id": "r1"})
        elapsed = time.monotonic() - started
        [message] = await served.debug.wait_for("out")
    assert answer.status_code == 200 and answer.json() == {"accepted": True, "id": message["id"]}
    assert elapsed >= 0.29  # answered after the delay node passed it on, not on arrival
    assert message["payload"] == {"devEui": "01"} and message["topic"] == "ttn/up"
    http = message["meta"]["http"]
    assert http["path"] == "/in/ttn/up" and http["query"] == "x=1" and http["headers"]["x-request-id"] == "r1"


async def test_refusals_with_reasons(tmp_path) -> None:
    async with serve(document({"path": "up", "maxBytes": 100}), tmp_path) as served, httpx.AsyncClient() as client:
        url = served.url + "/in/up"
        bad = await client.post(url, content=b'{"a": 1,, }')
        empty = await client.post(url, content=b"")
        binary = await client.post(url, content=b'{"a": "\xff"}')
        large = await client.post(url, content=b'{"a": "' + b"x" * 200 + b'"}')

        async def chunks() -> Any:
            for _ in range(20):
                yield b"x" * 10

        streamed = await client.post(url, content=chunks())  # no Content-Length: counted while reading
        method = await client.get(url)
        unknown = await client.post(served.url + "/in/other", json={})
        failed = await client.post(url, json={"fail": True})
        assert served.debug.values("out") == []
    assert bad.status_code == 400 and bad.json()["error"] == "invalid JSON at byte offset 8: Expecting property name enclosed in double quotes"
    assert empty.status_code == 400 and "empty body" in empty.json()["error"]
    assert binary.status_code == 400 and "not UTF-8 (byte offset 7)" in binary.json()["error"]
    assert large.status_code == 413 and "larger than the limit of 100 bytes" in large.json()["error"]
    assert streamed.status_code == 413
    assert method.status_code == 405 and method.headers["allow"] == "POST"
    assert unknown.status_code == 404
    assert failed.status_code == 500 and failed.json()["error"] == "this message is refused"


async def test_an_error_taken_by_catch_counts_as_accepted_and_a_stuck_flow_answers_503(tmp_path) -> None:
    async with serve(document({"path": "up"}, catch=True), tmp_path / "a") as served, httpx.AsyncClient() as client:
        caught = await client.post(served.url + "/in/up", json={"fail": True})
    assert caught.status_code == 200  # the flow's error handling took it: the pusher must not retry
    doc = document({"path": "up", "timeout": 0.2}, delay_ms=1000)
    async with serve(doc, tmp_path / "b") as served, httpx.AsyncClient() as client:
        answer = await client.post(served.url + "/in/up", json={"n": 1})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"


async def test_bearer_token(tmp_path) -> None:
    async with serve(document({"path": "up", "auth": "bearer", "token": "s3cret"}), tmp_path) as served, \
            httpx.AsyncClient() as client:
        url = served.url + "/in/up"
        missing = await client.post(url, json={})
        wrong = await client.post(url, json={}, headers={"authorization": "Bearer nope"})
        good = await client.post(url, json={}, headers={"authorization": "Bearer s3cret"})
    assert missing.status_code == 401 and "missing bearer token" in missing.json()["error"]
    assert wrong.status_code == 401 and wrong.json()["error"] == "wrong bearer token"
    assert good.status_code == 200


async def test_basic_auth(tmp_path) -> None:
    async with serve(document({"path": "up", "auth": "basic", "username": "ns", "password": "pw"}), tmp_path) as served, \
            httpx.AsyncClient() as client:
        url = served.url + "/in/up"
        wrong = await client.post(url, json={}, auth=("ns", "bad"))
        garbage = await client.post(url, json={}, headers={"authorization": "Basic ###"})
        good = await client.post(url, json={}, auth=("ns", "pw"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Basic"
    assert garbage.status_code == 401 and "malformed" in garbage.json()["error"]
    assert good.status_code == 200
    assert base64.b64encode(b"ns:pw")  # the scheme httpx used above


async def test_hmac_signature_of_the_exact_body(tmp_path) -> None:
    async with serve(document({"path": "up", "auth": "hmac", "secret": "k", "maxSkew": 60}), tmp_path) as served, \
            httpx.AsyncClient() as client:
        url = served.url + "/in/up"
        body = b'{"n": 1}'
        now = str(int(time.time()))

        def headers(timestamp: str, signed: bytes) -> dict[str, str]:
            return {"x-flowengine-timestamp": timestamp, "x-flowengine-signature": sign("k", timestamp, signed)}

        good = await client.post(url, content=body, headers=headers(now, body))
        tampered = await client.post(url, content=b'{"n": 2}', headers=headers(now, body))
        stale = await client.post(url, content=body, headers=headers(str(int(time.time()) - 600), body))
        unsigned = await client.post(url, content=body)
    assert good.status_code == 200
    assert tampered.status_code == 401 and tampered.json()["error"] == "signature does not match the body"
    assert stale.status_code == 401 and "more than 60 s" in stale.json()["error"]
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["error"]


async def test_the_example_flow_end_to_end(tmp_path) -> None:
    """flows/http-webhook.json: a TTS uplink pushed in arrives as signed seed-003 records."""
    flow = doc.load(EXAMPLE)
    async with Receiver() as receiver:
        for node in flow["nodes"]:
            if node["type"] == "http-out":
                node["config"]["url"] = receiver.url + "/webhook"
        uplink = {
            "end_device_ids": {"device_id": "eui-70b3d57ed0000001", "dev_eui": "70B3D57ED0000001",
                               "join_eui": "0000000000000000", "application_ids": {"application_id": "app"}},
            "received_at": "2026-01-01T00:00:10.5Z",
            "uplink_message": {
                "f_port": 1, "f_cnt": 3, "frm_payload": base64.b64encode(bytes.fromhex("03670110056864")).decode(),
                "rx_metadata": [{"gateway_ids": {"gateway_id": "gw", "eui": "0016C001FF000001"}, "rssi": -80, "snr": 7.5}],
                "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}}, "frequency": "868100000"},
                "received_at": "2026-01-01T00:00:10.5Z",
            },
        }
        async with serving(flow, tmp_path, editor=False) as served, httpx.AsyncClient() as client:
            answer = await client.post(served.url + "/in/ttn/uplinks", json=uplink)
            assert answer.status_code == 200, answer.text
            requests = await receiver.wait_for(2)
    records = {r.json()["property"]: r.json() for r in requests}
    assert set(records) == {"temperature_3", "relative_humidity_5"}
    temperature = records["temperature_3"]
    assert temperature["deviceId"] == "70b3d57ed0000001" and temperature["payload"] == 27.2
    assert temperature["unit"] == "°C" and temperature["timestamp"] == 1767225610500
    assert temperature["tags"] == {"fPort": "1"}
    for request in requests:
        assert request.path == "/webhook/values"
        assert verify("change-me-webhook-secret", request.headers["x-flowengine-timestamp"], request.body,
                      request.headers["x-flowengine-signature"], 60) is None
