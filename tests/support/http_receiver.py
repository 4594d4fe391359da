"""A real HTTP(S) receiver for tests: a small Starlette app under uvicorn on a free 127.0.0.1 port,
whose answers the test controls.

    async with Receiver() as receiver:              # answers 200 to everything
        receiver.handler = lambda request: (500, {}, "down for maintenance")
        ... receiver.url ... receiver.requests ...
        await receiver.stop(); await receiver.start()   # down, then up again on the same port
        await receiver.wait_for(10)

``handler(request)`` returns ``(status, headers, body)`` (or an awaitable of it); ``body`` may be
str, bytes or a JSON-able value. Every request is recorded before the handler runs.
``ssl_file`` (a PEM with the key and certificate chain, e.g. from trustme) serves HTTPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = field(default=None)

    def json(self) -> Any:
        return json.loads(self.body)


def ok(request: Received) -> Answer:
    return 200, {}, ""


class Receiver:
    """One uvicorn server on 127.0.0.1; ``port`` stays the same across stop/start."""

    def __init__(self, handler: Callable[[Received], Answer | Awaitable[Answer]] = ok, port: int = 0,
                 ssl_file: str | None = None) -> None:
        self.handler = handler
        self.ssl_file = ssl_file
        self.requests: list[Received] = []
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_file else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        received = Received(
            request.method, request.url.path, request.url.query,
            {k.lower(): v for k, v in request.headers.items()}, await request.body(),
        )
        self.requests.append(received)
        self._arrived.set()
        answer = self.handler(received)
        if inspect.isawaitable(answer):
            answer = await answer
        status, headers, body = answer  # type: ignore[misc]
        received.answered = status
        if not isinstance(body, str | bytes):
            body = json.dumps(body)
            headers = {"content-type": "application/json", **headers}
        await Response(body, status_code=status, headers=headers)(scope, receive, send)

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, interface="asgi3", log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
                                timeout_keep_alive=30, ssl_keyfile=self.ssl_file, ssl_certfile=self.ssl_file)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not self._server.started:
                if self._task.done():
                    sock.close()
                    await self._task
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None

    async def wait_for(self, count: int, timeout: float = 10.0, status: int | None = None) -> list[Received]:
        """Wait until ``count`` requests arrived (answered with ``status``, when given)."""
        def matching() -> list[Received]:
            if status is None:
                return self.requests
            return [r for r in self.requests if r.answered == status]

        async with asyncio.timeout(timeout):
            while len(matching()) < count:
                self._arrived.clear()
                await asyncio.sleep(0.005)
        return matching()
