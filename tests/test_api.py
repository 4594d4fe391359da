"""The HTTP API against a real server (uvicorn on a free port), with httpx and websockets."""

import asyncio
import json

import httpx
import websockets

from flowengine.testing import flow_document, serving

from .test_store import Secretive


def demo() -> dict:
    return flow_document(
        {"id": "in", "type": "inject", "config": {"payload": {"t": 21}}, "wires": [["out"]]},
        {"id": "out", "type": "debug"},
    )


async def test_get_and_deploy_flows_with_revisions(tmp_path):
    async with serving(demo(), tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
        current = (await client.get("/api/flows")).json()
        assert current["revision"] == 1
        assert [n["id"] for n in current["document"]["nodes"]] == ["in", "out"]

        document = current["document"]
        document["nodes"][0]["config"]["topic"] = "changed"
        answer = await client.post("/api/flows", json={"revision": 1, "document": document})
        assert answer.status_code == 200, answer.text
        assert answer.json()["revision"] == 2
        assert answer.json()["changes"]["started"] == ["in"]

        stale = await client.post("/api/flows", json={"revision": 1, "document": document})
        assert stale.status_code == 409
        assert stale.json()["revision"] == 2
        forced = await client.post("/api/flows", json={"revision": 1, "document": document, "force": True})
        assert forced.status_code == 200 and forced.json()["revision"] == 3

        revisions = (await client.get("/api/revisions")).json()
        assert [r["id"] for r in revisions] == [3, 2, 1]
        rollback = await client.post("/api/revisions/1/restore")
        assert rollback.json() == {"revision": 4}
        assert served.runtime.node("in").config["topic"] == ""


async def test_invalid_deploy_lists_every_problem_and_keeps_running(tmp_path):
    async with serving(demo(), tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
        running_node = served.runtime.node("in")
        bad = flow_document(
            {"id": "in", "type": "inject", "config": {"repeat": "x"}, "wires": [["ghost"]]},
            {"id": "out", "type": "nope"},
        )
        answer = await client.post("/api/flows", json={"revision": 1, "document": bad})
        assert answer.status_code == 400
        texts = [p["text"] for p in answer.json()["problems"]]
        assert "node in (inject): /config/repeat: 'x' is not of type 'number'" in texts
        assert "node in (inject): /wires/0/0: wire to missing node 'ghost'" in texts
        assert "node out (nope): /type: unknown node type 'nope'" in texts
        assert answer.json()["problems"][0]["node"] in ("in", "out")
        assert served.runtime.node("in") is running_node
        garbage = await client.post("/api/flows", content=b"{not json")
        assert garbage.status_code == 400 and "line 1 column 2" in garbage.json()["error"]


async def test_secrets_are_masked_and_kept_on_mask(tmp_path):
    document = flow_document({"id": "s", "type": "test-secretive", "config": {"password": "p4ss", "user": "bob"}})
    async with serving(document, tmp_path, extra_types=(Secretive,)) as served, httpx.AsyncClient(base_url=served.url) as client:
        current = (await client.get("/api/flows")).json()
        assert current["document"]["nodes"][0]["config"]["password"] == "*****"
        current["document"]["nodes"][0]["config"]["user"] = "carol"
        answer = await client.post("/api/flows", json={"revision": 1, "document": current["document"]})
        assert answer.status_code == 200, answer.text
        assert served.runtime.node("s").config == {"password": "p4ss", "user": "carol"}
        assert "p4ss" not in (await client.get("/api/flows")).text


async def test_inject_and_events_stream(tmp_path):
    async with serving(demo(), tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
        async with websockets.connect(served.ws_url + "/api/events") as events:
            first = json.loads(await asyncio.wait_for(events.recv(), 5))
            assert first["type"] == "status"
            answer = await client.post("/api/nodes/in/inject", json={"payload": {"t": 30}})
            assert answer.status_code == 200
            for _ in range(20):
                event = json.loads(await asyncio.wait_for(events.recv(), 5))
                if event["type"] == "debug":
                    break
            assert event["node"] == "out" and event["value"] == {"t": 30}
        assert (await client.post("/api/nodes/out/inject")).status_code == 400
        assert (await client.post("/api/nodes/ghost/inject")).status_code == 404


async def test_nodes_status_health_metrics(tmp_path):
    async with serving(demo(), tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
        types = {t["type"]: t for t in (await client.get("/api/nodes")).json()}
        assert types["switch"]["category"] == "filter"
        assert types["inject"]["injectable"] is True
        assert "properties" in types["template"]["schema"]
        await client.post("/api/nodes/in/inject")
        await served.debug.wait_for("out")
        status = (await client.get("/api/status")).json()
        assert status["out"]["counters"]["received"] == 1
        assert (await client.get("/healthz")).json() == {"status": "ok", "nodes": 2, "failing": 0}
        metrics = (await client.get("/metrics")).text
        assert 'flowengine_node_messages_received_total{flow="f1",node="out",type="debug"} 1.0' in metrics
        page = await client.get("/")
        assert page.status_code == 200 and "flowengine" in page.text
        assert (await client.get("/in/nothing-here")).status_code == 404


async def test_token_is_required_when_configured(tmp_path):
    async with serving(demo(), tmp_path, token="s3cret") as served, httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/flows")).status_code == 401
        assert (await client.get("/api/flows", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        async with websockets.connect(served.ws_url + "/api/events?token=s3cret") as events:
            assert json.loads(await asyncio.wait_for(events.recv(), 5))["type"] == "status"


async def test_dead_letters_are_visible(tmp_path):
    from flowengine.outbox import Outbox

    async with serving(demo(), tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
        box = Outbox(served.runtime.store.db, "hook")
        item = box.enqueue({"url": "https://example.org/values", "body": {"t": 1}})
        box.dead_letter(item, "400 Bad Request", {"status": 400, "body": "unknown device"})
        letters = (await client.get("/api/dead-letters")).json()
        assert [(d["sink"], d["reason"], d["response"]["status"]) for d in letters] == [("hook", "400 Bad Request", 400)]
        assert (await client.get("/api/dead-letters", params={"node": "other"})).json() == []
