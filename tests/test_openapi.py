"""The OpenAPI description is kept true: it names exactly the app's routes, real responses
validate against it, and a schemathesis run against the served app finds nothing."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys

import jsonschema
import pytest
from starlette.routing import Route

from flowengine import openapi
from flowengine.auth import Auth
from flowengine.server import create_app

from .test_connections import served, with_link

UNDESCRIBED = {"/", "/static"}  # the editor page and its files are not API


def document() -> dict:
    return with_link(
        {"id": "in", "type": "inject", "config": {"payload": {"t": 21}}, "wires": [["out"]]},
        {"id": "feed", "type": "test-feed", "config": {"link": "link1"}, "wires": [["out"]]},
        {"id": "out", "type": "debug"},
    )


def template(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)


async def test_spec_names_exactly_the_routes(tmp_path):
    async with served(tmp_path) as env:
        app = create_app(env.connections.deployer, connections_api=env.connections)
        routes = {(template(r.path), m.lower()) for r in app.routes if isinstance(r, Route) and r.path not in UNDESCRIBED
                  for m in r.methods - {"HEAD"}}
        described = {(path, method) for path, item in openapi.spec()["paths"].items() for method in item}
        assert routes == described
        served_spec = (await env.client.get("/api/openapi.json")).json()
        assert served_spec == openapi.spec() and served_spec["openapi"] == "3.1.0"


def response_validator(path: str, method: str, status: int, content_type: str = "application/json") -> jsonschema.Validator:
    spec = openapi.spec()
    responses = spec["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which is not described"
    schema = responses[str(status)].get("content", {}).get(content_type, {}).get("schema", {})
    root = {**schema, "components": spec["components"]}  # so that #/components/... refs resolve
    return jsonschema.Draft202012Validator(root)


async def test_real_responses_validate_against_the_spec(tmp_path):
    async with served(tmp_path, document()) as env:
        client = env.client
        await env.runtime.inject("feed", 1)
        created = await client.post("/api/connections", json={
            "id": "c1", "connectorId": "test-link", "configuration": {"host": "h", "password": "p"},
            "alarms": [{"startTime": "2026-01-05T09:00:00+01:00", "endTime": "2026-01-05T18:00:00+01:00",
                        "timezone": "Europe/Paris", "recurrence": [{"frequency": "daily"}], "uplinkRateMinPerHour": 1}]})
        flows = (await client.get("/api/flows")).json()
        calls = [
            ("get", "/healthz", "/healthz", None),
            ("get", "/api/flows", "/api/flows", None),
            ("post", "/api/flows", "/api/flows", flows),
            ("post", "/api/flows", "/api/flows", {"revision": 0, "document": {"version": 2}, "force": True}),
            ("post", "/api/flows", "/api/flows", {"revision": 0, "document": flows["document"]}),
            ("get", "/api/revisions", "/api/revisions", None),
            ("get", "/api/nodes", "/api/nodes", None),
            ("get", "/api/status", "/api/status", None),
            ("post", "/api/nodes/{node_id}/inject", "/api/nodes/in/inject", {"payload": 1}),
            ("post", "/api/nodes/{node_id}/inject", "/api/nodes/ghost/inject", None),
            ("post", "/api/nodes/{node_id}/inject", "/api/nodes/out/inject", None),
            ("get", "/api/connectors", "/api/connectors", None),
            ("get", "/api/connections", "/api/connections", None),
            ("post", "/api/connections", "/api/connections", {"connectorId": "test-link"}),
            ("post", "/api/connections", "/api/connections", {"id": "c1", "connectorId": "test-link"}),
            ("get", "/api/connections/{id}", "/api/connections/c1", None),
            ("get", "/api/connections/{id}", "/api/connections/ghost", None),
            ("put", "/api/connections/{id}", "/api/connections/c1", {"name": "renamed"}),
            ("put", "/api/connections/{id}", "/api/connections/c1", {"active": 3}),
            ("delete", "/api/connections/{id}", "/api/connections/link1", None),
            ("delete", "/api/connections/{id}", "/api/connections/c1", None),
            ("get", "/api/alarms", "/api/alarms", None),
            ("get", "/api/me", "/api/me", None),
            ("get", "/api/openapi.json", "/api/openapi.json", None),
            ("post", "/api/revisions/{revision}/restore", "/api/revisions/1/restore", None),
            ("post", "/api/revisions/{revision}/restore", "/api/revisions/999/restore", None),
        ]
        assert created.status_code == 201
        response_validator("/api/connections", "post", 201).validate(created.json())
        statuses = set()
        for method, path, url, body in calls:
            response = await client.request(method, url, json=body)
            statuses.add((method, path, response.status_code))
            if response.status_code == 204:
                continue
            response_validator(path, method, response.status_code).validate(response.json())
        assert {("post", "/api/flows", 400), ("post", "/api/flows", 409), ("delete", "/api/connections/{id}", 409),
                ("post", "/api/connections", 409), ("put", "/api/connections/{id}", 400)} <= statuses
        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        response_validator("/login", "get", 200, "text/html")  # described


async def test_refusals_are_described(tmp_path):
    auth = Auth(max_failures=1)
    auth.add_token("t", "good-token", "read-only")
    async with served(tmp_path, with_link(), auth=auth) as env:
        client = env.client
        unauthenticated = await client.get("/api/connections")
        response_validator("/api/connections", "get", 401).validate(unauthenticated.json())
        forbidden = await client.post("/api/connections", json={}, headers={"Authorization": "Bearer good-token"})
        response_validator("/api/connections", "post", 403).validate(forbidden.json())


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    pytest.importorskip("schemathesis", reason="pip install schemathesis")
    command = shutil.which("schemathesis") or shutil.which("st")
    assert command is not None, "schemathesis is installed but its command is not on PATH"
    auth = Auth()
    auth.add_token("fuzzer", "fuzz-token", "admin")
    async with served(tmp_path / "data", document(), auth=auth) as env:
        process = await asyncio.create_subprocess_exec(
            command, "run", f"{env.url}/api/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        "response_schema_conformance,response_headers_conformance",
            "--header", "Authorization: Bearer fuzz-token",
            "--max-time", "45", "--workers", "1", "--seed", "20261122", "--no-color",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
        text = output.decode(errors="replace")
        health = (await env.client.get("/healthz")).status_code
    summary = "\n".join(text.splitlines()[-40:])
    assert process.returncode == 0, summary
    assert " passed" in text and "Server error" not in text, summary
    assert health == 200
    print(summary, file=sys.stderr)

