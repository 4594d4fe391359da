"""``websocket-in``: against a real ``websockets`` server started by each test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from flowengine.testing import flow_document, free_port, running


class Peer:
    """A WebSocket server that records connections and frames, and runs ``script`` per connection."""

    def __init__(self, script: Callable[[ServerConnection, Peer], Any] | None = None) -> None:
        self.script = script
        self.connections: list[ServerConnection] = []
        self.received: list[str] = []
        self.changed = asyncio.Event()

    async def handler(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        self.changed.set()
        if self.script is not None:
            await self.script(connection, self)
        async for frame in connection:
            self.received.append(frame if isinstance(frame, str) else frame.decode())
            self.changed.set()

    async def wait(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def peer_server(peer: Peer, port: int = 0) -> AsyncIterator[Server]:
    async with serve(peer.handler, "127.0.0.1", port) as server:
        yield server


def port_of(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


def document(port: int, **config: Any) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["ws"]]},
        {"id": "ws", "type": "websocket-in", "config": {"url": f"ws://127.0.0.1:{port}/feed", **config}, "wires": [["out"]]},
        {"id": "out", "type": "debug"},
        {"id": "oops", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": ""}},
    )


async def test_emits_each_json_frame_and_reports_bad_ones(tmp_path) -> None:
    async def script(connection: ServerConnection, peer: Peer) -> None:
        await connection.send(json.dumps({"CommType": "comm_rx", "DevEui": "0732227a557d8679"}))
        await connection.send("not json at all")
        await connection.send(json.dumps([1, 2]).encode())
        await connection.send(json.dumps("last"))

    peer = Peer(script)
    async with peer_server(peer) as server, running(document(port_of(server), topic="feed"), tmp_path) as (runtime, debug):
        values = await debug.wait_for("out", count=3)
        assert values == [{"CommType": "comm_rx", "DevEui": "0732227a557d8679"}, [1, 2], "last"]
        assert debug.debug["out"][0]["topic"] == "feed"
        [failed] = await debug.wait_for("caught", count=1)
        assert failed["payload"] == "not json at all"
        assert failed["meta"]["error"]["message"] == "frame is not JSON: line 1 column 1 (byte offset 0): Expecting value"
        status = (await debug.wait_status("ws", "connected to"))["status"]
        assert status["color"] == "green"


async def test_text_format_emits_frames_as_they_are(tmp_path) -> None:
    async def script(connection: ServerConnection, peer: Peer) -> None:
        await connection.send("plain text")

    peer = Peer(script)
    async with peer_server(peer) as server, running(document(port_of(server), format="text"), tmp_path) as (runtime, debug):
        assert await debug.wait_for("out", count=1) == ["plain text"]


async def test_sends_input_messages_and_the_bearer_token(tmp_path) -> None:
    peer = Peer()
    async with peer_server(peer) as server, running(document(port_of(server), token="t0k"), tmp_path) as (runtime, debug):
        await peer.wait(lambda: len(peer.connections) == 1)
        assert peer.connections[0].request.headers["Authorization"] == "Bearer t0k"
        await runtime.inject("in", {"function": "TX", "Port": 2})
        await runtime.inject("in", "as text")
        await peer.wait(lambda: len(peer.received) == 2)
        assert [json.loads(peer.received[0]), peer.received[1]] == [{"function": "TX", "Port": 2}, "as text"]


async def test_reconnects_with_back_off_and_sends_what_waited(tmp_path) -> None:
    port = free_port()
    peer = Peer()
    config = {"reconnectMin": 0.05, "reconnectMax": 0.2, "sendTimeout": 5}
    async with running(document(port, **config), tmp_path) as (runtime, debug):
        # nobody listens yet: the node retries, the wait doubling up to the maximum
        await debug.wait_status("ws", "retrying in 0.2 s")
        retries = [e["status"]["retry"] for e in debug.status["ws"] if "retry" in e["status"]]
        assert retries[:3] == [0.05, 0.1, 0.2]
        assert "Connect call failed" in debug.status["ws"][-1]["status"]["text"] or "refused" in debug.status["ws"][-1]["status"]["text"].lower()
        sending = asyncio.create_task(runtime.inject("in", "waited"))
        async with peer_server(peer, port):
            await peer.wait(lambda: peer.received == ["waited"])
            await sending
            # the server drops the connection: the node comes back by itself
            await peer.connections[0].close(code=1011)
            await peer.wait(lambda: len(peer.connections) == 2)
            await runtime.inject("in", "after")
            await peer.wait(lambda: peer.received == ["waited", "after"])
        node = runtime.node("ws")
        assert node is not None and node.connections == 2  # type: ignore[attr-defined]


async def test_a_message_fails_when_the_connection_stays_down(tmp_path) -> None:
    port = free_port()
    async with running(document(port, reconnectMin=0.05, reconnectMax=0.05, sendTimeout=0.2), tmp_path) as (runtime, debug):
        await runtime.inject("in", "nowhere")
        [failed] = await debug.wait_for("caught", count=1)
        assert failed["meta"]["error"]["message"].startswith(f"not connected to ws://127.0.0.1:{port}/feed within 0.2 s")
