"""The OpenAPI 3.1 description of the HTTP API, served at ``/api/openapi.json``.

Written by hand next to the routes and kept true by ``tests/test_openapi.py``: every route of the
app is described (and nothing else), real responses validate against it, and a schemathesis run
against the served app finds no server error and no response that breaks it. The events
WebSocket (``/api/events``) is outside OpenAPI's reach and described in ``info.description``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowengine import __version__
from flowengine.alarms import ALARM_SCHEMA

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _page_or_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}, "text/html": {"schema": {"type": "string"}}}}


NOT_FOUND = {"description": "no such resource", "content": {JSON: {"schema": _ref("Error")}, "text/plain": {"schema": {"type": "string"}}}}
DENIED = {
    "401": _error("authentication required (Bearer token, Basic, or the session cookie of /login)"),
    "403": _error("the role of the caller does not allow this"),
    "429": _error("too many failed logins from this client or for this user"),
}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "description": "Every refusal; some carry more fields (problems, revision, usedBy).",
    },
    "Problem": {
        "type": "object",
        "required": ["where", "pointer", "reason", "text"],
        "properties": {
            "node": {"type": ["string", "null"]},
            "where": {"type": "string"},
            "pointer": {"type": "string"},
            "reason": {"type": "string"},
            "text": {"type": "string"},
        },
    },
    "Document": {
        "type": "object",
        "description": "A flow document (see flowengine.document): version, flows, nodes.",
        "properties": {"version": {"type": "integer"}, "flows": {"type": "array"}, "nodes": {"type": "array"}},
    },
    "Deploy": {
        "type": "object",
        "required": ["document"],
        "properties": {
            "revision": {"type": ["integer", "null"], "description": "The revision the document was based on."},
            "document": _ref("Document"),
            "force": {"type": "boolean", "default": False},
        },
    },
    "Connector": {
        "type": "object",
        "required": ["id", "producerId", "moduleId", "version", "description", "connection"],
        "properties": {
            "id": {"type": "string"},
            "producerId": {"type": "string"},
            "moduleId": {"type": "string"},
            "version": {"type": "string"},
            "description": {"type": "string"},
            "logo": {"type": ["string", "null"]},
            "beta": {"type": ["boolean", "null"]},
            "urlDoc": {"type": ["string", "null"]},
            "category": {"type": "string", "enum": ["config", "source", "sink"]},
            "connectable": {"type": "boolean", "description": "Whether connections can be made of it (config connectors)."},
            "connection": {
                "type": "object",
                "required": ["configurationSchema"],
                "properties": {"configurationSchema": {"type": "object"}},
            },
        },
    },
    "Alarm": ALARM_SCHEMA,
    "AlarmStatus": {
        "type": "object",
        "required": ["connectionId", "alarm", "state", "raised"],
        "properties": {
            "connectionId": {"type": "string"},
            "alarm": {"type": "integer", "description": "Index in the connection's alarms."},
            "message": {"type": "string"},
            "uplinkRateMinPerHour": {"type": "number"},
            "state": {"type": "string", "enum": ["inactive", "watching", "ok", "raised"]},
            "raised": {"type": "boolean"},
            "uplinksLastHour": {"type": ["number", "null"]},
            "windowStart": {"type": ["string", "null"]},
            "windowEnd": {"type": ["string", "null"]},
            "raisedAt": {"type": ["string", "null"]},
            "clearedAt": {"type": ["string", "null"]},
        },
    },
    "Connection": {
        "type": "object",
        "required": ["id", "connectorId", "name", "active", "configuration", "state", "startupTime", "alarms"],
        "properties": {
            "id": {"type": "string"},
            "connectorId": {"type": "string"},
            "name": {"type": "string"},
            "active": {"type": "boolean"},
            "configuration": {"type": "object", "description": "Secrets are always *****."},
            "state": {"type": "string", "enum": ["OPENED", "CLOSED", "CONNECTING", "ERROR"]},
            "startupTime": {"type": ["string", "null"]},
            "status": {"type": "object", "properties": {"text": {"type": "string"}, "color": {"type": "string"}}},
            "lastError": {"type": ["string", "null"]},
            "alarms": {"type": "array", "items": {"type": "object"}},
            "alarmStatus": {"type": "array", "items": _ref("AlarmStatus")},
            "chainedWithConnectionIds": {"type": "array", "items": {"type": "string"}},
            "failover": {"type": ["object", "null"], "description": "While failed over: the chained connection carrying its nodes.",
                         "properties": {"to": {"type": "string"}, "nodes": {"type": "array", "items": {"type": "string"}},
                                        "since": {"type": "string"}}},
            "usedBy": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ConnectionInput": {
        "type": "object",
        "additionalProperties": False,
        "description": "POST needs connectorId; PUT takes any subset and keeps the rest. "
                       "Read-only fields (state, startupTime, ...) are accepted and ignored.",
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
            "connectorId": {"type": "string"},
            "name": {"type": "string", "maxLength": 200},
            "active": {"type": "boolean"},
            "configuration": {"type": "object"},
            "alarms": {"type": "array", "items": _ref("Alarm")},
            "chainedWithConnectionIds": {"type": "array", "items": {"type": ["string", "integer"]}},
            "state": {}, "startupTime": {}, "status": {}, "lastError": {}, "alarmStatus": {}, "failover": {}, "usedBy": {},
        },
    },
    "ConnectionProblems": {
        "type": "object",
        "required": ["error", "problems"],
        "properties": {
            "error": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {"type": "object", "required": ["path", "reason"],
                          "properties": {"path": {"type": "string"}, "reason": {"type": "string"}}},
            },
        },
    },
}


def _op(summary: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None, params: list[Any] | None = None,
        public: bool = False, tag: str = "") -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**responses, **({} if public else DENIED)}}
    if tag:
        operation["tags"] = [tag]
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    if params:
        operation["parameters"] = params
    if public:
        operation["security"] = []
    return operation


PATHS: dict[str, Any] = {
    "/healthz": {"get": _op("Liveness and failing nodes", {"200": _json({
        "type": "object", "required": ["status", "nodes", "failing"],
        "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}, "nodes": {"type": "integer"}, "failing": {"type": "integer"}},
    }, "health")}, public=True, tag="server")},
    "/metrics": {"get": _op("Prometheus metrics", {"200": {"description": "text exposition format",
                                                          "content": {"text/plain": {"schema": {"type": "string"}}}}}, tag="server")},
    "/api/flows": {
        "get": _op("The deployed document and its revision (secrets as *****)", {"200": _json({
            "type": "object", "required": ["revision", "document"],
            "properties": {"revision": {"type": ["integer", "null"]}, "document": _ref("Document")}}, "deployed")}, tag="flows"),
        "post": _op("Deploy a document based on a revision", {
            "200": _json({"type": "object", "required": ["revision", "changes"], "properties": {
                "revision": {"type": "integer"}, "changes": {"type": "object"}}}, "deployed as a new revision"),
            "400": _json({"allOf": [_ref("Error"), {"properties": {"problems": {"type": "array", "items": _ref("Problem")}}}]},
                         "invalid: every problem"),
            "409": _error("based on a stale revision (not forced)"),
        }, body=_ref("Deploy"), tag="flows"),
    },
    "/api/revisions": {"get": _op("Stored revisions, newest first", {"200": _json({"type": "array", "items": {
        "type": "object", "required": ["id", "created", "note"],
        "properties": {"id": {"type": "integer"}, "created": {"type": "string"}, "note": {"type": "string"}}}}, "revisions")}, tag="flows")},
    "/api/revisions/{revision}/restore": {"post": _op("Roll back to a stored revision (as a new revision)", {
        "200": _json({"type": "object", "required": ["revision"], "properties": {"revision": {"type": ["integer", "null"]}}}, "restored"),
        "400": _error("the stored revision is no longer valid"),
        "404": NOT_FOUND,
    }, params=[{"name": "revision", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}], tag="flows")},
    "/api/nodes": {"get": _op("Node types and their config schemas", {"200": _json({"type": "array", "items": {
        "type": "object", "required": ["type", "category", "schema"],
        "properties": {"type": {"type": "string"}, "category": {"type": "string"}, "schema": {"type": "object"}}}}, "node types")},
        tag="nodes")},
    "/api/status": {"get": _op("Per node: state, status, counters, queue, last error", {"200": _json({
        "type": "object", "additionalProperties": {"type": "object", "required": ["type", "state", "status"]}}, "status")}, tag="nodes")},
    "/api/nodes/{node_id}/inject": {"post": _op("Trigger an inject node", {
        "200": _json({"type": "object", "required": ["injected"], "properties": {"injected": {"type": "string"}}}, "injected"),
        "400": _error("not JSON, or the node cannot be injected"),
        "404": NOT_FOUND,
    }, body={"type": "object", "properties": {"payload": {}}},
        params=[{"name": "node_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}], tag="nodes")},
    "/api/connectors": {"get": _op("Connectors (seed 004): node types that talk to the outside", {
        "200": _json({"type": "array", "items": _ref("Connector")}, "connectors")}, tag="connections")},
    "/api/connections": {
        "get": _op("Connections: config nodes of the deployed document", {
            "200": _json({"type": "array", "items": _ref("Connection")}, "connections")}, tag="connections"),
        "post": _op("Create a connection (deploys a new revision)", {
            "201": _json(_ref("Connection"), "created"),
            "400": _json(_ref("ConnectionProblems"), "invalid: each field path and reason"),
            "409": _error("a node with this id exists"),
        }, body=_ref("ConnectionInput"), tag="connections"),
    },
    "/api/connections/{id}": {
        "get": _op("One connection", {"200": _json(_ref("Connection"), "the connection"), "404": NOT_FOUND},
                   params=[ID], tag="connections"),
        "put": _op("Change a connection; ***** keeps a stored secret", {
            "200": _json(_ref("Connection"), "changed"),
            "400": _json(_ref("ConnectionProblems"), "invalid: each field path and reason"),
            "404": NOT_FOUND,
        }, body=_ref("ConnectionInput"), params=[ID], tag="connections"),
        "delete": _op("Delete a connection that no node uses", {
            "204": {"description": "deleted"},
            "404": NOT_FOUND,
            "409": _json({"allOf": [_ref("Error"), {"properties": {"usedBy": {"type": "array"}, "chainedBy": {"type": "array"}}}]},
                         "used by nodes (listed) or chained by connections"),
        }, params=[ID], tag="connections"),
    },
    "/api/alarms": {"get": _op("Every alarm's state and the recent raise/clear events", {"200": _json({
        "type": "object", "required": ["alarms", "events"],
        "properties": {"alarms": {"type": "array", "items": _ref("AlarmStatus")}, "events": {"type": "array", "items": {"type": "object"}}}},
        "alarms")}, tag="connections")},
    "/api/dead-letters": {"get": _op("Messages sinks gave up on (4xx answers, too old), with the peer's answer, newest first", {"200": _json({
        "type": "array", "items": {"type": "object", "required": ["id", "sink"], "properties": {
            "id": {"type": "integer"}, "sink": {"type": "string"}}}}, "dead letters")},
        params=[{"name": "node", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Only this sink node's"}],
        tag="flows")},
    "/api/me": {"get": _op("Who the caller is", {"200": _json({
        "type": "object", "required": ["username", "role", "via"],
        "properties": {"username": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "read-only"]},
                       "via": {"type": "string", "enum": ["session", "token", "basic", "open"]}}}, "the caller")}, tag="access")},
    "/api/openapi.json": {"get": _op("This description", {"200": _json({"type": "object"}, "OpenAPI 3.1")}, public=True, tag="server")},
    "/login": {
        "get": _op("The login page", {"200": {"description": "HTML form", "content": {"text/html": {"schema": {"type": "string"}}}}},
                   params=[{"name": "next", "in": "query", "required": False, "schema": {"type": "string"}}], public=True, tag="access"),
        "post": {
            "summary": "Log in (form or JSON); sets the session cookie",
            "tags": ["access"],
            "security": [],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": {"type": "object", "required": ["username", "password"],
                                  "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}}}},
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"},
                                   "next": {"type": "string"}}}},
            }},
            "responses": {
                "200": _json({"type": "object", "required": ["username", "role"],
                              "properties": {"username": {"type": "string"}, "role": {"type": "string"}}}, "logged in (JSON)"),
                "303": {"description": "logged in (form): redirect to next"},
                "400": _error("not a login request"),
                "401": _page_or_error("wrong user name or password (the form gets the page again)"),
                "429": _page_or_error("too many failed logins"),
            },
        },
    },
    "/logout": {
        "post": _op("End the session", {"303": {"description": "redirect to /login"}}, public=True, tag="access"),
        "get": _op("End the session", {"303": {"description": "redirect to /login"}}, public=True, tag="access"),
    },
}

DESCRIPTION = """The flowengine API. Every path but /healthz, /login, /logout and this description needs
credentials when users or tokens are configured: `Authorization: Bearer <token>`, HTTP Basic with a user's
name and password, or the session cookie set by `POST /login`. Role read-only may only read.

WebSocket `/api/events` (same credentials; `?token=` where no header can be set) streams JSON text
frames: `{"type": "status"|"debug"|"error"|"alarm"|"failover", ...}`; alarm events carry `event`
(raised/cleared), `connection`, `alarm` (index), `message`, `reason`, `uplinksLastHour`,
`uplinkRateMinPerHour`, `time`; failover events carry `event` (failed-over/restored), `connection`, `from`,
`to`, `nodes`, `time`."""


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "flowengine", "version": __version__, "description": DESCRIPTION},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "apiKey", "in": "cookie", "name": "flowengine_session"},
            },
        },
        "security": [{"bearer": []}, {"basic": []}, {"session": []}],
    }


def routes() -> list[BaseRoute]:
    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec())

    return [Route("/api/openapi.json", openapi_json, methods=["GET"])]
