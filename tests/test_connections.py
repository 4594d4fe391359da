"""Connectors and connections (seed 004) over the real server: CRUD, validation, masking,
deletion refused while in use, active on/off, chaining, and live state against Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
import websockets

from flowengine.auth import Auth
from flowengine.clock import Clock, ManualClock
from flowengine.connections import Connections, connection_state
from flowengine.deployer import Deployer
from flowengine.message import Message
from flowengine.node import Node
from flowengine.runtime import Runtime
from flowengine.server import create_app
from flowengine.testing import DebugCollector, flow_document, running, serve_app

from .support import mosquitto


class LinkNode(Node):
    """Test connection: a config node with a secret; ``fail`` makes its start fail. Reads and writes no messages."""

    type = "test-link"
    category = "config"
    inputs = 0
    outputs = 0
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["host"],
        "properties": {
            "host": {"title": "Host", "type": "string", "minLength": 1, "description": "Peer host."},
            "port": {"title": "Port", "type": "integer", "minimum": 1, "maximum": 65535, "default": 1883, "description": "Peer port."},
            "password": {"title": "Password", "type": "string", "writeOnly": True, "format": "password", "default": "", "description": "Secret."},
            "fail": {"title": "Fail", "type": "boolean", "default": False, "description": "Make start() fail."},
        },
    }

    async def start(self) -> None:
        if self.config["fail"]:
            # like a careless driver, the error names the password: the API must not show it
            raise ConnectionRefusedError(f"cannot reach {self.config['host']} as {self.config['password']!r}")


class FeedNode(Node):
    """Test source through a ``test-link``: an injected payload is sent as one message (writes ``payload``)."""

    type = "test-feed"
    category = "source"
    inputs = 0
    injectable = True
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["link"],
        "properties": {"link": {"title": "Link", "type": "string", "x-node-type": "test-link", "description": "The connection."}},
    }

    async def inject(self, payload: Any = None) -> None:
        await self.send(Message(payload))


class Env:
    """What :func:`served` yields."""

    def __init__(self, url: str, runtime: Runtime, connections: Connections, debug: DebugCollector) -> None:
        self.url, self.runtime, self.connections, self.debug = url, runtime, connections, debug
        self.client = httpx.AsyncClient(base_url=url, timeout=10)


@asynccontextmanager
async def served(tmp_path, document: dict | None = None, *, auth: Auth | None = None, clock: Clock | None = None,
                 interval: float = 60.0, failover_after: float = 30.0) -> AsyncIterator[Env]:
    """The server with the test node types, a connections API, and an httpx client."""
    async with running(None, tmp_path, extra_types=(LinkNode, FeedNode), clock=clock, start_timeout=5) as (runtime, debug):
        deployer = Deployer(runtime, runtime.store)
        if document is not None:
            await deployer.deploy(document, None)
        connections = Connections(deployer, interval=interval, failover_after=failover_after)
        async with serve_app(create_app(deployer, auth=auth, connections_api=connections)) as url:
            env = Env(url, runtime, connections, debug)
            async with env.client:
                yield env


async def wait_state(client: httpx.AsyncClient, connection_id: str, states: set[str], timeout: float = 15) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            view = (await client.get(f"/api/connections/{connection_id}")).json()
            if view["state"] in states:
                return view
            await asyncio.sleep(0.05)


def with_link(*nodes: dict) -> dict:
    document = flow_document(*nodes)
    document["nodes"].append({"id": "link1", "type": "test-link", "flow": None, "config": {"host": "peer", "password": "pw-1"}})
    return document


async def test_connectors_in_the_shape_of_seed_004(tmp_path):
    async with served(tmp_path) as env:
        connectors = {c["id"]: c for c in (await env.client.get("/api/connectors")).json()}
    broker = connectors["mqtt-broker"]
    assert broker["producerId"] == "flowengine" and broker["moduleId"] == "mqtt-broker" and broker["version"]
    assert broker["connectable"] is True and broker["description"]
    assert broker["connection"]["configurationSchema"] == env.runtime.registry["mqtt-broker"].schema
    assert connectors["mqtt-in"]["category"] == "source" and connectors["mqtt-in"]["connectable"] is False
    assert "test-link" in connectors and "template" not in connectors and "switch" not in connectors


async def test_crud_masking_and_keep_on_mask(tmp_path):
    async with served(tmp_path) as env:
        client = env.client
        created = await client.post("/api/connections", json={
            "connectorId": "test-link", "name": "Peer", "active": True,
            "configuration": {"host": "peer.example", "password": "hunter2"},
        })
        assert created.status_code == 201, created.text
        view = created.json()
        connection_id = view["id"]
        assert view["connectorId"] == "test-link" and view["name"] == "Peer" and view["active"] is True
        assert view["configuration"]["password"] == "*****" and "hunter2" not in created.text
        assert view["state"] == "OPENED" and view["alarms"] == [] and view["chainedWithConnectionIds"] == []
        assert env.runtime.node(connection_id).config["password"] == "hunter2"

        # a connection is a config node of the deployed document, deployed as a new revision
        flows = (await client.get("/api/flows")).json()
        node = next(n for n in flows["document"]["nodes"] if n["id"] == connection_id)
        assert node["flow"] is None and node["config"]["password"] == "*****"
        assert flows["revision"] == 1

        listed = (await client.get("/api/connections")).json()
        assert [c["id"] for c in listed] == [connection_id]
        assert (await client.get(f"/api/connections/{connection_id}")).json()["configuration"]["password"] == "*****"

        # PUT carrying ***** keeps the secret; other fields change
        changed = await client.put(f"/api/connections/{connection_id}", json={**view, "name": "Peer 2",
                                   "configuration": {**view["configuration"], "port": 8883}})
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Peer 2" and changed.json()["configuration"]["port"] == 8883
        assert env.runtime.node(connection_id).config["password"] == "hunter2"
        # a new value replaces it; the stored revision never holds it in clear
        await client.put(f"/api/connections/{connection_id}", json={"configuration": {"host": "peer.example", "password": "s3cond"}})
        assert env.runtime.node(connection_id).config["password"] == "s3cond"
        revisions = env.runtime.store.db.execute("select document from revisions").fetchall()
        assert len(revisions) == 3 and all("s3cond" not in r[0] and "hunter2" not in r[0] for r in revisions)

        # PUT with only some fields keeps the rest
        renamed = (await client.put(f"/api/connections/{connection_id}", json={"name": "Peer 3"})).json()
        assert renamed["configuration"]["host"] == "peer.example" and renamed["active"] is True

        assert (await client.delete(f"/api/connections/{connection_id}")).status_code == 204
        assert (await client.get(f"/api/connections/{connection_id}")).status_code == 404
        assert (await client.delete(f"/api/connections/{connection_id}")).status_code == 404
        assert (await client.put(f"/api/connections/{connection_id}", json={})).status_code == 404
        assert env.runtime.node(connection_id) is None


async def test_invalid_configuration_lists_each_field_and_reason(tmp_path):
    async with served(tmp_path) as env:
        response = await env.client.post("/api/connections", json={
            "connectorId": "test-link", "configuration": {"port": 70000, "bogus": 1},
            "alarms": [{"startTime": "2026-01-05T09:00:00", "endTime": "2026-01-05T18:00:00+01:00", "timezone": "Mars/Base",
                        "uplinkRateMinPerHour": 10, "recurrence": [{"frequency": "weekly", "byDays": ["funday"]}]}],
        })
        assert response.status_code == 400
        problems = {(p["path"], p["reason"]) for p in response.json()["problems"]}
        paths = {p for p, _ in problems}
        assert {"/alarms/0/startTime", "/alarms/0/timezone", "/alarms/0/recurrence/0/byDays"} <= paths
        assert (await env.client.get("/api/connections")).json() == []  # nothing half-made

        response = await env.client.post("/api/connections", json={"connectorId": "test-link", "configuration": {"port": 70000, "bogus": 1}})
        problems = {(p["path"], p["reason"]) for p in response.json()["problems"]}
        assert ("/configuration/port", "70000 is greater than the maximum of 65535") in problems
        assert ("/configuration", "'host' is a required property") in problems
        assert any(p == "/configuration" and "bogus" in r for p, r in problems)

        for body, path in (({"connectorId": "nope"}, "/connectorId"), ({"connectorId": "test-feed"}, "/connectorId"),
                           ({"connectorId": "test-link", "active": "yes", "configuration": {"host": "h"}}, "/active"),
                           ({"connectorId": "test-link", "id": "bad id!", "configuration": {"host": "h"}}, "/id"),
                           ({"connectorId": "test-link", "configuration": {"host": "h"}, "colour": 1}, "/colour")):
            response = await env.client.post("/api/connections", json=body)
            assert response.status_code == 400 and path in {p["path"] for p in response.json()["problems"]}, body
        assert (await env.client.post("/api/connections", content=b"{nope")).status_code == 400
        assert (await env.client.post("/api/connections", json=[1])).status_code == 400
        # a new connection cannot say ***** for a secret it never had
        response = await env.client.post("/api/connections", json={"connectorId": "test-link", "configuration": {"host": "h", "password": "*****"}})
        assert response.status_code == 400 and response.json()["problems"][0]["path"] == "/configuration/password"


async def test_no_secret_is_echoed_in_an_error(tmp_path):
    async with served(tmp_path, with_link()) as env:
        response = await env.client.put("/api/connections/link1", json={"configuration": {"host": "h", "password": 987654321}})
        assert response.status_code == 400 and "987654321" not in response.text
        assert response.json()["problems"] == [{"path": "/configuration/password", "reason": "***** is not of type 'string'"}]
        document = (await env.client.get("/api/flows")).json()
        document["document"]["nodes"][0]["config"]["password"] = ["top", "secret"]
        response = await env.client.post("/api/flows", json=document)
        assert response.status_code == 400 and "secret" not in response.text.replace("secret is", "")
        assert "*****" in response.text


async def test_delete_in_use_is_refused_with_the_nodes(tmp_path):
    document = with_link({"id": "feed", "type": "test-feed", "name": "Uplinks", "config": {"link": "link1"}})
    async with served(tmp_path, document) as env:
        response = await env.client.delete("/api/connections/link1")
        assert response.status_code == 409
        assert response.json()["usedBy"] == [{"id": "feed", "type": "test-feed", "name": "Uplinks", "flow": "f1"}]
        assert "feed (test-feed)" in response.json()["error"]
        assert (await env.client.get("/api/connections/link1")).json()["usedBy"][0]["id"] == "feed"
        # a node that is not a connection is not one here either
        assert (await env.client.get("/api/connections/feed")).status_code == 404


async def test_active_closes_and_opens_live(tmp_path):
    async with served(tmp_path, with_link()) as env:
        assert (await env.client.get("/api/connections/link1")).json()["state"] == "OPENED"
        closed = (await env.client.put("/api/connections/link1", json={"active": False})).json()
        assert closed["active"] is False and closed["state"] == "CLOSED"
        assert env.runtime.node("link1") is None
        opened = (await env.client.put("/api/connections/link1", json={"active": True})).json()
        assert opened["active"] is True and opened["state"] == "OPENED"
        assert env.runtime.node("link1").config["password"] == "pw-1"


async def test_failing_start_is_error_and_chain_validation(tmp_path):
    async with served(tmp_path, with_link()) as env:
        client = env.client
        response = await client.post("/api/connections", json={
            "id": "primary", "connectorId": "test-link", "configuration": {"host": "down", "fail": True, "password": "leaky-secret"},
            "chainedWithConnectionIds": ["link1"]})
        assert response.status_code == 201, response.text
        view = await wait_state(client, "primary", {"ERROR"})
        assert view["lastError"] == "cannot reach down as *****" and view["startupTime"] is None
        assert "*****" in view["status"]["text"] and "leaky-secret" not in json.dumps(view)
        assert "leaky-secret" not in (await client.get("/api/status")).text
        async with websockets.connect("ws" + env.url[4:] + "/api/events") as events:
            first = [json.loads(await events.recv()) for _ in range(2)]
        assert "leaky-secret" not in json.dumps(first) and any("*****" in json.dumps(e) for e in first)
        assert view["chainedWithConnectionIds"] == ["link1"] and view["failover"] is None

        for chain, reason in ((["primary"], "itself"), (["ghost"], "no connection"), (["link1", "link1"], "twice"), ("link1", "a list")):
            response = await client.put("/api/connections/primary", json={"chainedWithConnectionIds": chain})
            assert response.status_code == 400 and reason in response.text, chain
        other = await client.post("/api/connections", json={"id": "broker", "connectorId": "mqtt-broker", "configuration": {"host": "h"}})
        assert other.status_code == 201
        response = await client.put("/api/connections/primary", json={"chainedWithConnectionIds": ["broker"]})
        assert response.status_code == 400 and "not a test-link" in response.text
        # a chained connection cannot be deleted while chained
        response = await client.delete("/api/connections/link1")
        assert response.status_code == 409 and response.json()["chainedBy"] == ["primary"]
        await client.put("/api/connections/primary", json={"chainedWithConnectionIds": []})
        assert (await client.delete("/api/connections/link1")).status_code == 204


async def test_failover_moves_the_nodes_and_back(tmp_path):
    document = with_link({"id": "feed", "type": "test-feed", "config": {"link": "primary"}, "wires": [["out"]]},
                         {"id": "out", "type": "debug"})
    document["nodes"].append({"id": "primary", "type": "test-link", "flow": None, "config": {"host": "main", "fail": True, "password": "pw-2"}})
    clock = ManualClock(datetime(2026, 3, 30, 6, 0, tzinfo=UTC))
    async with served(tmp_path, document, clock=clock) as env:
        client, connections = env.client, env.connections
        events: list[dict] = []
        async with env.runtime.events.subscribe() as subscription:
            await client.put("/api/connections/primary", json={"chainedWithConnectionIds": ["link1"]})
            await wait_state(client, "primary", {"ERROR"})
            await connections.failover()  # down from now on; not for long enough yet
            clock.set(clock.now() + timedelta(seconds=29))
            await connections.failover()
            assert env.runtime.node("feed").config["link"] == "primary"
            clock.set(clock.now() + timedelta(seconds=1))
            await connections.failover()
            assert env.runtime.node("feed").config["link"] == "link1"  # moved, live
            view = (await client.get("/api/connections/primary")).json()
            assert view["failover"] == {"to": "link1", "nodes": ["feed"], "since": "2026-03-30T06:00:30+00:00"}
            assert view["usedBy"] == [] and (await client.get("/api/connections/link1")).json()["usedBy"][0]["id"] == "feed"
            revisions = (await client.get("/api/revisions")).json()
            assert revisions[0]["note"] == "fail-over: primary failed-over, feed now on link1"
            await env.runtime.inject("feed", "through the chained connection")
            assert await env.debug.wait_for("out") == ["through the chained connection"]

            # the primary comes back: the node goes back (and keeps the stored secret)
            await client.put("/api/connections/primary", json={"configuration": {"host": "main", "fail": False, "password": "*****"}})
            await wait_state(client, "primary", {"OPENED"})
            await connections.failover()
            assert env.runtime.node("feed").config["link"] == "primary"
            assert env.runtime.node("primary").config["password"] == "pw-2"
            assert (await client.get("/api/connections/primary")).json()["failover"] is None
            while not subscription.queue.empty():
                event = subscription.queue.get_nowait()
                if event["type"] == "failover":
                    events.append(event)
        assert [(e["event"], e["from"], e["to"], e["nodes"]) for e in events] == [
            ("failed-over", "primary", "link1", ["feed"]), ("restored", "link1", "primary", ["feed"])]


def test_state_mapping():
    assert connection_state(None) == "CLOSED"
    assert connection_state({"state": "disabled", "status": {}}) == "CLOSED"
    assert connection_state({"state": "failed", "status": {}}) == "ERROR"
    assert connection_state({"state": "starting", "status": {}}) == "CONNECTING"
    assert connection_state({"state": "running", "status": {"state": "connected"}}) == "OPENED"
    assert connection_state({"state": "running", "status": {"state": "connecting"}}) == "CONNECTING"
    assert connection_state({"state": "running", "status": {"state": "disconnected"}}) == "ERROR"
    assert connection_state({"state": "running", "status": {"state": "closed"}}) == "CLOSED"
    assert connection_state({"state": "running", "status": {"text": "x", "color": "red"}}) == "ERROR"
    assert connection_state({"state": "running", "status": {}}) == "OPENED"


@pytest.mark.mqtt
@pytest.mark.skipif(not mosquitto.available(), reason="needs /usr/sbin/mosquitto")
async def test_live_state_follows_a_real_mosquitto(tmp_path):
    broker = mosquitto.Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        async with served(tmp_path / "data") as env:
            client = env.client
            response = await client.post("/api/connections", json={
                "id": "ns", "connectorId": "mqtt-broker", "name": "Network server",
                "configuration": {"host": "127.0.0.1", "port": broker.port, "password": "broker-secret",
                                  "reconnectStrategy": "AGGRESSIVE", "connectTimeout": 2}})
            assert response.status_code == 201, response.text
            assert response.json()["configuration"]["password"] == "*****"
            opened = await wait_state(client, "ns", {"OPENED"})
            assert opened["startupTime"] is not None
            await asyncio.to_thread(broker.stop)
            down = await wait_state(client, "ns", {"ERROR", "CLOSED"})
            assert down["startupTime"] is None and down["status"]["color"] in ("red", "grey", "yellow")
            await asyncio.to_thread(broker.start)
            reopened = await wait_state(client, "ns", {"OPENED"})
            assert reopened["startupTime"] > opened["startupTime"]
            closed = (await client.put("/api/connections/ns", json={"active": False})).json()
            assert closed["state"] == "CLOSED"
            assert (await client.put("/api/connections/ns", json={"active": True})).status_code == 200
            await wait_state(client, "ns", {"OPENED"})
    finally:
        broker.close()


async def received(env: Env, count: int, timeout: float = 15) -> list:
    return await env.debug.wait_for("out", count=count, timeout=timeout)


def publish(port: int, topic: str, payload: str) -> None:
    peer = mosquitto.Peer(port)
    try:
        peer.publish(topic, payload, qos=1, retain=True)  # retained: a subscriber that comes later gets it
    finally:
        peer.close()


@pytest.mark.mqtt
@pytest.mark.skipif(not mosquitto.available(), reason="needs /usr/sbin/mosquitto")
async def test_failover_between_two_real_brokers(tmp_path):
    main, spare = mosquitto.Mosquitto(tmp_path / "main"), mosquitto.Mosquitto(tmp_path / "spare")
    main.start()
    spare.start()
    document = flow_document({"id": "in", "type": "mqtt-in", "config": {"broker": "main", "topic": "up/#"}, "wires": [["out"]]},
                             {"id": "out", "type": "debug"})
    for broker_id, broker in (("main", main), ("spare", spare)):
        document["nodes"].append({"id": broker_id, "type": "mqtt-broker", "flow": None, "config": {
            "host": "127.0.0.1", "port": broker.port, "reconnectStrategy": "AGGRESSIVE", "connectTimeout": 2}})
    try:
        async with served(tmp_path / "data", document, interval=0.2, failover_after=0.5) as env:
            await env.client.put("/api/connections/main", json={"chainedWithConnectionIds": ["spare"]})
            monitor = asyncio.create_task(env.connections.alarms.run())
            try:
                await asyncio.to_thread(publish, main.port, "up/1", "one")
                assert await received(env, 1) == ["one"]
                await asyncio.to_thread(main.stop)
                async with asyncio.timeout(15):
                    while (await env.client.get("/api/connections/main")).json()["failover"] is None:
                        await asyncio.sleep(0.1)
                assert env.runtime.node("in").config["broker"] == "spare"
                await asyncio.to_thread(publish, spare.port, "up/2", "two")
                assert await received(env, 2) == ["one", "two"]
                await asyncio.to_thread(main.start)
                async with asyncio.timeout(15):
                    while env.runtime.node("in") is None or env.runtime.node("in").config["broker"] != "main":
                        await asyncio.sleep(0.1)
                await asyncio.to_thread(publish, main.port, "up/3", "three")
                async with asyncio.timeout(15):
                    while "three" not in env.debug.values("out"):
                        await env.debug.wait_for("out", count=len(env.debug.values("out")) + 1)
                notes = [r["note"] for r in (await env.client.get("/api/revisions")).json()]
                assert notes[:2] == ["fail-over: main restored, in now on main", "fail-over: main failed-over, in now on spare"]
            finally:
                monitor.cancel()
                await asyncio.gather(monitor, return_exceptions=True)
    finally:
        main.close()
        spare.close()


async def test_headless_run_fails_over_without_revisions(tmp_path):
    """``flowengine run`` runs a file, not a stored revision: edits go straight to the runtime."""
    document = with_link({"id": "feed", "type": "test-feed", "config": {"link": "primary"}})
    document["nodes"].append({"id": "primary", "type": "test-link", "flow": None, "config": {"host": "main", "fail": True}})
    clock = ManualClock(datetime(2026, 3, 30, 6, 0, tzinfo=UTC))
    async with running(document, tmp_path, extra_types=(LinkNode, FeedNode), clock=clock) as (runtime, _):
        connections = Connections(Deployer(runtime, runtime.store), revisions=False)
        connections._save_settings("primary", [], ["link1"])
        await connections.failover()
        clock.set(clock.now() + timedelta(seconds=30))
        await connections.failover()
        assert runtime.node("feed").config["link"] == "link1"
        assert runtime.node("link1").config["password"] == "pw-1"  # the running secret is kept
        assert runtime.store.latest_revision() is None
        assert connections.get("primary")["failover"]["to"] == "link1"
