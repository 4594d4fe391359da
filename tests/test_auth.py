"""Access control over the real server: every route, the events WebSocket, the editor page and
its login, http-in and websocket-server routes, roles, tokens, rate-limited logins, settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import websockets
from argon2 import PasswordHasher
from starlette.routing import Route

from flowengine.auth import Auth, SettingsError, hash_password
from flowengine.server import create_app

from .test_connections import served, with_link

ALICE, BOB = "correct horse battery", "read only please"
ADMIN_TOKEN, READER_TOKEN = "automation-token-0123456789", "reader-token-0123456789"


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    """argon2id hashes with cheap parameters (verification reads them from the hash), to keep tests fast."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return {"alice": cheap.hash(ALICE), "bob": cheap.hash(BOB)}


def make_auth(hashes: dict[str, str], **options) -> Auth:
    auth = Auth(**options)
    auth.add_user("alice", hashes["alice"], "admin")
    auth.add_user("bob", hashes["bob"], "read-only")
    auth.add_token("ci", ADMIN_TOKEN, "admin")
    auth.add_token("dashboard", READER_TOKEN, "read-only")
    return auth


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def document() -> dict:
    return with_link(
        {"id": "in", "type": "http-in", "config": {"path": "uplinks"}, "wires": [["out"]]},
        {"id": "signed", "type": "http-in", "config": {"path": "signed", "auth": "bearer", "token": "node-token"}, "wires": [["out"]]},
        {"id": "ws", "type": "websocket-server", "config": {"path": "/ws/devices"}},
        {"id": "out", "type": "debug"},
    )


def concrete(path: str) -> str:
    return path.replace("{revision:int}", "1").replace("{node_id}", "in").replace("{id}", "link1")


async def test_every_route_needs_credentials(tmp_path, hashes):
    async with served(tmp_path, document(), auth=make_auth(hashes)) as env:
        client = env.client
        app = create_app(env.connections.deployer, auth=make_auth(hashes), connections_api=env.connections)
        checked = 0
        for route in app.routes:
            if not isinstance(route, Route) or route.path in ("/healthz", "/login", "/logout", "/api/openapi.json"):
                continue
            for method in sorted(route.methods - {"HEAD"}):
                response = await client.request(method, concrete(route.path))
                expected = 303 if route.path == "/" else 401
                assert response.status_code == expected, (method, route.path, response.text)
                checked += 1
        assert checked >= 17
        # the node routes too
        assert (await client.post("/in/uplinks", json={"a": 1})).status_code == 401
        assert (await client.get("/in/nothing")).status_code == 401  # even a 404 needs credentials first
        # but not health, the login page and the API description
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/openapi.json")).status_code == 200
        assert "Log in" in (await client.get("/login")).text
        # the editor page sends a browser to the login page
        page = await client.get("/?tab=f1", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F%3Ftab%3Df1"
        assert (await client.get("/api/flows", headers=bearer("wrong"))).status_code == 401
        assert (await client.get("/api/flows", headers=bearer(ADMIN_TOKEN))).status_code == 200


async def test_events_websocket_needs_credentials(tmp_path, hashes):
    async with served(tmp_path, document(), auth=make_auth(hashes)) as env:
        ws_url = "ws" + env.url[4:]
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url + "/api/events"):
                pass
        assert refused.value.response.status_code == 403
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url + "/api/events?token=wrong"):
                pass
        async with websockets.connect(ws_url + f"/api/events?token={READER_TOKEN}") as events:
            assert json.loads(await events.recv())["type"] == "status"
        login = await env.client.post("/login", json={"username": "bob", "password": BOB})
        cookie = login.cookies["flowengine_session"]
        async with websockets.connect(ws_url + "/api/events", additional_headers={"Cookie": f"flowengine_session={cookie}"}) as events:
            assert json.loads(await events.recv())["type"] == "status"
        with pytest.raises(websockets.InvalidStatus):  # another site's page cannot ride the cookie
            async with websockets.connect(ws_url + "/api/events", origin="https://evil.example",
                                          additional_headers={"Cookie": f"flowengine_session={cookie}"}):
                pass


async def test_node_routes_http_in_and_websocket_server(tmp_path, hashes):
    async with served(tmp_path, document(), auth=make_auth(hashes)) as env:
        client = env.client
        accepted = await client.post("/in/uplinks", json={"devEui": "01"}, headers=bearer(ADMIN_TOKEN))
        assert accepted.status_code == 200 and accepted.json()["accepted"] is True
        basic = await client.post("/in/uplinks", json={"devEui": "02"}, auth=("alice", ALICE))
        assert basic.status_code == 200
        # a route with its own authentication is left to its node
        assert (await client.post("/in/signed", json={}, headers=bearer("node-token"))).status_code == 200
        assert (await client.post("/in/signed", json={}, headers=bearer(ADMIN_TOKEN))).status_code == 401
        ws_url = "ws" + env.url[4:]
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url + "/ws/devices"):
                pass
        async with websockets.connect(ws_url + f"/ws/devices?token={ADMIN_TOKEN}"):
            pass


async def test_login_page_sessions_and_logout(tmp_path, hashes):
    async with served(tmp_path, document(), auth=make_auth(hashes)) as env:
        client = env.client
        wrong = await client.post("/login", data={"username": "alice", "password": "nope", "next": "/"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text and "nope" not in wrong.text
        assert "flowengine_session" not in wrong.cookies
        unknown = await client.post("/login", json={"username": "mallory", "password": "x"})
        assert unknown.status_code == 401
        ok = await client.post("/login", data={"username": "alice", "password": ALICE, "next": "/?tab=f1"})
        assert ok.status_code == 303 and ok.headers["location"] == "/?tab=f1"
        assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
        assert (await client.get("/", headers={"Accept": "text/html"})).status_code == 200  # the editor, with the cookie
        assert (await client.get("/api/me")).json() == {"username": "alice", "role": "admin", "via": "session"}
        # the session may change things from the same origin, not from another site
        assert (await client.put("/api/connections/link1", json={"name": "x"})).status_code == 200
        foreign = await client.put("/api/connections/link1", json={"name": "y"}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        # an open redirect is not possible
        evil = await client.post("/login", data={"username": "alice", "password": ALICE, "next": "//evil.example/"})
        assert evil.headers["location"] == "/"
        session = evil.cookies["flowengine_session"]
        await client.post("/logout")
        assert (await client.get("/api/me")).status_code == 401
        client.cookies.set("flowengine_session", session)  # the old cookie is dead on the server too
        assert (await client.get("/api/me")).status_code == 401


async def test_read_only_is_denied_changes(tmp_path, hashes):
    async with served(tmp_path, document(), auth=make_auth(hashes)) as env:
        client = env.client
        for credentials in ({"auth": ("bob", BOB)}, {"headers": bearer(READER_TOKEN)}):
            flows = await client.get("/api/flows", **credentials)
            assert flows.status_code == 200
            denied = await client.post("/api/flows", json=flows.json(), **credentials)
            assert denied.status_code == 403 and "read-only" in denied.json()["error"]
            assert (await client.put("/api/connections/link1", json={"active": False}, **credentials)).status_code == 403
            assert (await client.post("/api/nodes/in/inject", **credentials)).status_code == 403
            assert (await client.get("/api/connections", **credentials)).status_code == 200
        # an admin may
        flows = (await client.get("/api/flows", auth=("alice", ALICE))).json()
        assert (await client.post("/api/flows", json=flows, auth=("alice", ALICE))).status_code == 200
        assert (await client.post("/api/flows", json=(await client.get("/api/flows", headers=bearer(ADMIN_TOKEN))).json(),
                                  headers=bearer(ADMIN_TOKEN))).status_code == 200


async def test_failed_logins_are_rate_limited(tmp_path, hashes):
    async with served(tmp_path, with_link(), auth=make_auth(hashes, max_failures=3, lockout=60)) as env:
        client = env.client
        for _ in range(3):
            assert (await client.post("/login", json={"username": "alice", "password": "guess"})).status_code == 401
        locked = await client.post("/login", json={"username": "alice", "password": ALICE})
        assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60
        page = await client.post("/login", data={"username": "bob", "password": BOB})  # same client address
        assert page.status_code == 429 and "Too many failed logins" in page.text
        basic = await client.get("/api/flows", auth=("alice", ALICE))
        assert basic.status_code == 429
        # tokens are not passwords: automation keeps working
        assert (await client.get("/api/flows", headers=bearer(ADMIN_TOKEN))).status_code == 200


async def test_basic_failures_count_too(tmp_path, hashes):
    clock = [1000.0]
    auth = make_auth(hashes, max_failures=2, lockout=30, now=lambda: clock[0])
    async with served(tmp_path, with_link(), auth=auth) as env:
        for _ in range(2):
            assert (await env.client.get("/api/flows", auth=("bob", "guess"))).status_code == 401
        assert (await env.client.get("/api/flows", auth=("bob", BOB))).status_code == 429
        clock[0] += 31
        assert (await env.client.get("/api/flows", auth=("bob", BOB))).status_code == 200


async def test_open_when_nothing_is_configured(tmp_path):
    async with served(tmp_path, with_link()) as env:
        assert (await env.client.get("/api/me")).json() == {"username": "anonymous", "role": "admin", "via": "open"}
        assert (await env.client.get("/api/flows")).status_code == 200


def test_settings_from_yaml_json_and_environment(tmp_path, hashes):
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text(
        "users:\n"
        f"  - {{username: alice, password: '{hashes['alice']}', role: admin}}\n"
        "tokens:\n"
        "  - {name: ci, sha256: " + "ab" * 32 + ", role: read-only}\n"
        "login: {maxFailures: 7}\n"
    )
    auth = Auth.from_settings(yaml_file, {"FLOWENGINE_API_TOKEN": "env-token", "FLOWENGINE_USERS": f"bob:read-only:{hashes['bob']}"})
    assert set(auth.users) == {"alice", "bob"} and auth.users["bob"][1] == "read-only"
    assert auth.max_failures == 7 and auth.check_token("env-token").role == "admin"
    json_file = tmp_path / "settings.json"
    json_file.write_text(json.dumps({"tokens": [{"name": "t", "token": "plain", "role": "admin"}]}))
    assert Auth.from_settings(json_file, {}).check_token("plain").name == "t"
    assert not Auth.from_settings(None, {}).enabled
    bad = {
        "role": {"users": [{"username": "x", "password": hashes["alice"], "role": "root"}]},
        "argon2 hash": {"users": [{"username": "x", "password": "plain-text", "role": "admin"}]},
        "64 hex": {"tokens": [{"sha256": "zz"}]},
    }
    for reason, settings in bad.items():
        json_file.write_text(json.dumps(settings))
        with pytest.raises(SettingsError, match=reason):
            Auth.from_settings(json_file, {})
    with pytest.raises(SettingsError, match="no-such-file"):
        Auth.from_settings(tmp_path / "no-such-file.yaml", {})


def run_cli(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowengine", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.slow
def test_cli_hash_password_and_settings_errors(tmp_path):
    result = run_cli("hash-password", stdin="s3cret\n")
    assert result.returncode == 0 and result.stdout.startswith("$argon2id$")
    auth = Auth()
    auth.add_user("u", result.stdout.strip(), "admin")
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: [{username: u, password: plain}]\n")
    result = run_cli("serve", "--settings", str(bad), "--data", str(tmp_path / "d"))
    assert result.returncode == 2 and "argon2 hash" in result.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWENGINE_API_TOKEN", "FLOWENGINE_USERS")}
    result = run_cli("serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d"), env=env)
    assert result.returncode == 2 and "without credentials" in result.stderr


async def test_login_api_checks_the_password_with_argon2(hashes):
    auth = make_auth(hashes)
    assert (await auth.login("alice", ALICE, "c")).role == "admin"
    assert hash_password(ALICE).startswith("$argon2id$v=19$m=65536")  # the real parameters
    assert await auth.login("alice", ALICE + "x", "c") is None
    assert hashes["alice"].startswith("$argon2id$") and ALICE not in hashes["alice"]
    session = auth.open_session(await auth.login("bob", BOB, "c"))
    assert auth.session(session).role == "read-only"
    assert auth.session("forged") is None
