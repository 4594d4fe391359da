"""``websocket-server``: real ``websockets`` clients against flowengine's real HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from flowengine.testing import Served, serving
from flowengine.testing import flow_document as flow

PATH = "/ws/resiot"


def document(server: dict[str, Any] | None = None, downstream: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    downstream = downstream or [{"id": "out", "type": "debug"}]
    return flow(
        {"id": "in", "type": "inject", "wires": [["ws"]]},
        {"id": "ws", "type": "websocket-server", "config": {"path": PATH, "connector": "636f6e313332", **(server or {})},
         "wires": [[downstream[0]["id"]]]},
        *downstream,
    )


def uplink(count: int, padding: int = 0) -> dict[str, Any]:
    extra = {"channel": 4, "adr": True, "duplicate": False}
    if padding:
        extra["note"] = "x" * padding
    return {"type": "uplink", "devEui": "0732227a557d8679", "joinEui": "006c3b194374ac7f", "fPort": 2,
            "fCnt": count, "bytes": "0102", "receivedAt": "2026-01-01T10:00:00+01:00",
            "rx": [{"gatewayEui": "218000ac0000a05f", "rssi": -80, "snr": 7.5}], "frequency": 868100000,
            "sf": 7, "bw": 125, "extra": extra}


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def receive_json(client: ClientConnection, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        return json.loads(await client.recv())


def clients_of(served: Served) -> int:
    node = served.runtime.node("ws")
    assert node is not None
    return node.clients  # type: ignore[attr-defined, no-any-return]


SEED_COMMAND = {"function": "TX", "Payload": "HI!", "AppEui": "ABCDEF1234567890", "DevEui": "0987654321ABCDEF",
                "Connector": "", "Port": 50, "Reference": "abcdefgh", "Raw": True, "Confirm": True}


async def test_several_clients_receive_the_same_uplinks_in_order(tmp_path) -> None:
    async with serving(document(), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        async with connect(url) as a, connect(url) as b, connect(url) as c:
            await wait_until(lambda: clients_of(served) == 3)
            await served.debug.wait_status("ws", "3 clients")
            for count in range(50):
                await served.runtime.inject("in", uplink(count))
            for client in (a, b, c):
                frames = [await receive_json(client) for _ in range(50)]
                assert [f["Extra"]["seqno"] for f in frames] == [str(n) for n in range(50)]
                assert frames[0] == {
                    "CommType": "comm_rx", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
                    "DevEui": "0732227a557d8679", "Port": "2", "GatewayEUIs": ["218000ac0000a05f"], "Payload": "0102",
                    "Extra": {"adr": "true", "channel": "4", "duplicate": "false", "frequency": "868.1", "modBW": "125",
                              "rssi": "-80", "seqno": "0", "sf": "7", "snr": "7.5"},
                    "DT": "2026-01-01T10:00:00+01:00"}


async def test_a_client_that_never_reads_does_not_slow_the_others(tmp_path) -> None:
    async with serving(document({"clientQueue": 50}), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        node = served.runtime.node("ws")
        # The idle client takes almost nothing off the wire (a tiny receive buffer, a library queue
        # of 1, no compression); the kernel's send buffer on the server side (up to 4 MB) fills first, then the
        # node's queue of 50 frames for it, and then it is closed.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", int(served.url.rsplit(":", 1)[1])))
        idle = await connect(url, sock=sock, max_queue=1, compression=None)
        try:
            async with connect(url) as reader:
                await wait_until(lambda: clients_of(served) == 2)
                received: list[int] = []
                sent = 0

                async def read(until: int) -> None:
                    async with asyncio.timeout(20):
                        while len(received) < until:
                            received.append(int(json.loads(await reader.recv())["Extra"]["seqno"]))

                reading = asyncio.create_task(read(20_000))
                started = time.perf_counter()
                while node.kicked == 0 and sent < 5000:  # type: ignore[union-attr]
                    await served.runtime.inject("in", uplink(sent, padding=4000))
                    sent += 1
                kicked_after = sent
                for _ in range(200):
                    await served.runtime.inject("in", uplink(sent, padding=4000))
                    sent += 1
                injected = time.perf_counter() - started
                await wait_until(lambda: len(received) == sent, timeout=20)
                elapsed = time.perf_counter() - started
                reading.cancel()
                assert received == list(range(sent))
                assert node.kicked == 1 and node.dropped > 0  # type: ignore[union-attr]
                await wait_until(lambda: clients_of(served) == 1)
                await wait_until(lambda: served.debug.status["ws"][-1]["status"]["clients"] == 1)
                status = served.debug.status["ws"][-1]["status"]
                assert status["dropped"] == node.dropped and status["text"].endswith(f"{node.dropped} dropped")  # type: ignore[union-attr]
                print(f"\n{sent} frames of ~4.4 kB ({sent * 4.4 / 1000:.1f} MB): idle client closed after frame "
                      f"{kicked_after} with {node.dropped} dropped; all injected in {injected:.2f} s, "  # type: ignore[union-attr]
                      f"the reading client had all of them in order after {elapsed:.2f} s")
        finally:
            idle.transport.abort()
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await idle.recv()


async def test_tx_command_success_reply_downlink_and_echo(tmp_path) -> None:
    server = {"topic": "tpx/things/{DevEUI}/downlink"}
    async with serving(document(server), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        async with connect(url) as sender, connect(url) as watcher:
            await wait_until(lambda: clients_of(served) == 2)
            await sender.send(json.dumps(SEED_COMMAND))
            assert await receive_json(sender) == {"Result": "Success", "Details": "", "Reference": "abcdefgh"}
            for client in (sender, watcher):
                echo = await receive_json(client)
                assert echo["CommType"] == "comm_tx"
                assert {k: echo[k] for k in ("Connector", "AppEui", "DevEui", "Port", "Payload", "Reference", "Confirmation")} == {
                    "Connector": "636f6e313332", "AppEui": "abcdef1234567890", "DevEui": "0987654321abcdef", "Port": "50",
                    "Payload": "484921", "Reference": "abcdefgh", "Confirmation": True}
            [event] = served.debug.debug["out"]
            assert event["value"] == {"type": "downlink", "devEui": "0987654321abcdef", "fPort": 50, "bytes": "484921",
                                      "confirmed": True, "reference": "abcdefgh", "appEui": "abcdef1234567890",
                                      "connector": ""}
            assert event["topic"] == "tpx/things/0987654321abcdef/downlink"
            # hex payload, the DevEUI spelling, and a binary frame
            command = {"function": "TX", "Payload": "2525", "AppEui": "006c3b194374ac7f", "DevEUI": "0732227a557d8679",
                       "Port": 1}
            await sender.send(json.dumps(command).encode())
            assert await receive_json(sender) == {"Result": "Success", "Details": "", "Reference": ""}
            values = await served.debug.wait_for("out", count=2)
            assert values[1]["bytes"] == "2525" and values[1]["devEui"] == "0732227a557d8679"


FAILS = [
    ("{nope", "not JSON: line 1 column 2 (byte offset 1): Expecting property name enclosed in double quotes"),
    ('[1, 2]', "expected a JSON object, got a list"),
    ({**SEED_COMMAND, "function": "RX"}, "function: 'RX' is not supported; only 'TX' is"),
    ({k: v for k, v in SEED_COMMAND.items() if k != "function"}, "function: required"),
    ({k: v for k, v in SEED_COMMAND.items() if k != "AppEui"}, "AppEui: required"),
    ({k: v for k, v in SEED_COMMAND.items() if k != "DevEui"}, "DevEui: required (or DevEUI)"),
    ({k: v for k, v in SEED_COMMAND.items() if k != "Port"}, "Port: required"),
    ({**SEED_COMMAND, "DevEui": "0987"}, "DevEui: expected 16 hex digits, got '0987'"),
    ({**SEED_COMMAND, "Port": 0}, "Port: expected an integer from 1 to 223, got 0"),
    ({**SEED_COMMAND, "Port": 224}, "Port: expected an integer from 1 to 223, got 224"),
    ({**SEED_COMMAND, "Raw": False}, "Payload: hex text has an odd number of digits (3); set Raw to true to send text"),
    ({**SEED_COMMAND, "Raw": False, "Payload": "HI!!"}, "Payload: not hex at character 0 ('H'); set Raw to true to send text"),
    ({**SEED_COMMAND, "Payload": "x" * 300}, "Payload: 300 bytes; a LoRaWAN downlink carries at most 242"),
]


async def test_each_fail_reason_is_answered_to_that_client_only(tmp_path) -> None:
    async with serving(document(), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        async with connect(url) as sender, connect(url) as watcher:
            await wait_until(lambda: clients_of(served) == 2)
            for command, details in FAILS:
                await sender.send(command if isinstance(command, str) else json.dumps(command))
                reference = "abcdefgh" if isinstance(command, dict) else ""
                assert await receive_json(sender) == {"Result": "Fail", "Details": details, "Reference": reference}
            with pytest.raises(TimeoutError):
                await receive_json(watcher, timeout=0.2)
            assert served.debug.debug["out"] == []


async def test_fail_when_commands_are_off_the_flow_fails_or_is_too_slow(tmp_path) -> None:
    failing = [{"id": "bad", "type": "template", "config": {"template": "{{ payload.nothing.here }}"}}]
    slow = [{"id": "slow", "type": "delay", "config": {"milliseconds": 400}}]
    cases = [
        ({"acceptTx": False}, None, "this WebSocket does not accept commands"),
        ({}, failing, "downlink failed: template"),
        ({"replyTimeout": 0.1}, slow, "the flow did not handle the downlink within 0.1 s (it may still be sent)"),
    ]
    for index, (server, downstream, details) in enumerate(cases):
        async with serving(document(server, downstream), tmp_path / str(index), editor=False) as served, \
                connect(served.ws_url + PATH) as client:
            await client.send(json.dumps(SEED_COMMAND))
            answer = await receive_json(client)
            assert (answer["Result"], answer["Reference"]) == ("Fail", "abcdefgh")
            assert answer["Details"].startswith(details)  # the failing node's own words follow
            with pytest.raises(TimeoutError):  # no comm_tx echo for a failed command
                await receive_json(client, timeout=0.1)


async def test_token_auth(tmp_path) -> None:
    async with serving(document({"token": "s3cret"}), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        for bad in (url, url + "?token=wrong"):
            with pytest.raises(InvalidStatus) as refused:
                await connect(bad)
            assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            await connect(url, additional_headers={"Authorization": "Bearer nope"})
        async with connect(url + "?token=s3cret") as by_query, \
                connect(url, additional_headers={"Authorization": "Bearer s3cret"}) as by_header:
            await wait_until(lambda: clients_of(served) == 2)
            await served.runtime.inject("in", uplink(1))
            assert (await receive_json(by_query))["CommType"] == "comm_rx"
            assert (await receive_json(by_header))["CommType"] == "comm_rx"
        # the node's token is a secret: masked in what the server stores
        stored = served.deployer.store.load_revision()
        assert stored is not None
        [ws] = [n for n in stored[1]["nodes"] if n["id"] == "ws"]
        assert ws["config"]["token"] == "*****"


async def test_disconnects_closed_and_aborted_and_stop(tmp_path) -> None:
    async with serving(document(), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        async with connect(url) as stays:
            polite = await connect(url)
            rude = await connect(url)
            await wait_until(lambda: clients_of(served) == 3)
            await polite.close()
            rude.transport.abort()  # gone without a closing handshake
            await wait_until(lambda: clients_of(served) == 1)
            await served.debug.wait_status("ws", "1 client on")
            await served.runtime.inject("in", uplink(7))
            assert (await receive_json(stays))["Extra"]["seqno"] == "7"
            # removing the node closes its clients (going away) and its path
            await served.deployer.deploy(flow({"id": "in", "type": "inject"}), served.deployer.store.latest_revision())
            with pytest.raises(ConnectionClosed) as closed:
                await receive_json(stays)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        with pytest.raises(InvalidStatus):
            await connect(url)


async def test_max_clients(tmp_path) -> None:
    async with serving(document({"maxClients": 1}), tmp_path, editor=False) as served:
        url = served.ws_url + PATH
        async with connect(url):
            await wait_until(lambda: clients_of(served) == 1)
            with pytest.raises(InvalidStatus) as refused:
                await connect(url)
            assert refused.value.response.status_code == 403
        await wait_until(lambda: clients_of(served) == 0)
        async with connect(url):
            await wait_until(lambda: clients_of(served) == 1)


async def test_a_websocket_in_node_is_a_client_both_ways(tmp_path) -> None:
    """flowengine's own websocket-in reads the feed and sends a TX command through it."""
    async with serving(None, tmp_path, editor=False) as served:
        feed = flow(
            {"id": "in", "type": "inject", "wires": [["ws"]]},
            {"id": "ws", "type": "websocket-server", "config": {"path": PATH}, "wires": [["downlinks"]]},
            {"id": "downlinks", "type": "debug"},
            {"id": "command", "type": "inject", "wires": [["client"]]},
            {"id": "client", "type": "websocket-in", "config": {"url": served.ws_url + PATH}, "wires": [["heard"]]},
            {"id": "heard", "type": "debug"},
        )
        await served.deployer.deploy(feed, None)
        await wait_until(lambda: clients_of(served) == 1)
        await served.runtime.inject("in", uplink(3))
        [heard] = await served.debug.wait_for("heard")
        assert (heard["CommType"], heard["Extra"]["seqno"]) == ("comm_rx", "3")
        await served.runtime.inject("command", {**SEED_COMMAND, "Reference": "via-node"})
        answer, echo = (await served.debug.wait_for("heard", count=3))[1:]
        assert answer == {"Result": "Success", "Details": "", "Reference": "via-node"}
        assert (echo["CommType"], echo["Reference"]) == ("comm_tx", "via-node")
        [downlink] = served.debug.values("downlinks")
        assert downlink["reference"] == "via-node"
