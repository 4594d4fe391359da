"""The ``flowengine`` command: ``serve``, ``run``, ``validate``, ``nodes`` and ``codec``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
import uvloop

from flowengine import document as doc
from flowengine.api import node_type_info
from flowengine.auth import Auth, SettingsError, hash_password
from flowengine.connections import Connections
from flowengine.deployer import Deployer
from flowengine.registry import Registry
from flowengine.runtime import Runtime
from flowengine.server import create_app
from flowengine.store import Store, split_secrets
from flowengine.types import Document
from flowengine.validation import InvalidDocument, Problem, validate

log = logging.getLogger("flowengine")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.command(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowengine", description="A visual flow engine for IoT device data.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the editor, the API and the flows")
    serve.add_argument("flow", nargs="?", type=Path, help="deploy this document at start (else the last deployed revision)")
    _server_options(serve)
    serve.set_defaults(command=_serve)

    run = commands.add_parser("run", help="run a flow document headless (no editor)")
    run.add_argument("flow", type=Path)
    _server_options(run)
    run.set_defaults(command=_run)

    check = commands.add_parser("validate", help="check a flow document; one line per problem")
    check.add_argument("flow", type=Path)
    check.set_defaults(command=_validate)

    nodes = commands.add_parser("nodes", help="list the node types and their config schemas")
    nodes.add_argument("--json", action="store_true", help="print the full descriptions as JSON")
    nodes.set_defaults(command=_nodes)

    hasher = commands.add_parser("hash-password", help="print an argon2 hash of a password (read from stdin) for --settings")
    hasher.set_defaults(command=_hash_password)

    with contextlib.suppress(ImportError):
        from flowengine import codec_cli

        codec_cli.register(commands)
    return parser


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path(".flowengine"), help="data folder (default ./.flowengine)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1880, help="listen port (default 1880; 0 picks a free one)")
    parser.add_argument("--settings", type=Path, help="users, roles and API tokens (JSON or YAML; see flowengine.auth)")
    parser.add_argument("--stop-timeout", type=float, default=10.0, help="seconds each node may take to drain and stop")


def _print_problems(problems: Sequence[Problem | str]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def _load(path: Path, registry: Registry) -> Document | None:
    try:
        document = doc.load(path)
    except doc.DocumentError as exc:
        _print_problems([str(exc)])
        return None
    problems = validate(document, registry).problems
    if problems:
        _print_problems(problems)
        return None
    return document


def _validate(args: argparse.Namespace) -> int:
    registry = Registry.from_entry_points()
    document = _load(args.flow, registry)
    if document is None:
        return 1
    print(f"ok: {len(document.get('nodes', []))} node(s) in {len(document.get('flows', []))} flow(s)")
    return 0


def _nodes(args: argparse.Namespace) -> int:
    registry = Registry.from_entry_points()
    if args.json:
        print(json.dumps([node_type_info(t) for t in registry], indent=2))
        return 0
    for node_type in registry:
        print(f"{node_type.type:<18} {node_type.category:<10} {node_type.summary()}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    return _with_server(args, editor=True)


def _run(args: argparse.Namespace) -> int:
    return _with_server(args, editor=False)


def _hash_password(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def _with_server(args: argparse.Namespace, editor: bool) -> int:
    try:
        auth = Auth.from_settings(args.settings, os.environ)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host) and not auth.enabled:
        print(f"refusing to listen on {args.host} without credentials: give users or tokens in --settings, "
              f"or set FLOWENGINE_API_TOKEN or FLOWENGINE_USERS", file=sys.stderr)
        return 2
    registry = Registry.from_entry_points()
    document = None
    if args.flow is not None:
        document = _load(args.flow, registry)
        if document is None:
            return 1
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_main(args, registry, document, editor, auth))
    except KeyboardInterrupt:
        return 130


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between collections of CPython's youngest generation in ``serve`` and ``run``
(the default is 700). Messages are short-lived and freed by reference counting, so frequent
cycle searches only cost time: about a tenth of the CPU per message in ``bench/mqtt_pipeline.py``."""


def tune_gc() -> None:
    """CPython's collector as ``serve`` and ``run`` set it (see :data:`GC_YOUNG_THRESHOLD`)."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _main(args: argparse.Namespace, registry: Registry, document: Document | None, editor: bool, auth: Auth) -> int:
    tune_gc()
    store = Store(args.data)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Runtime(registry, store, stop_timeout=args.stop_timeout) as runtime:
            deployer = Deployer(runtime, store)
            try:
                await _initial_deploy(deployer, document, editor, args.flow)
            except InvalidDocument as exc:
                _print_problems(exc.problems)
                return 1
            gc.freeze()  # what start-up made lives as long as the process: keep it out of every collection
            connections = Connections(deployer, revisions=editor)
            alarms = asyncio.create_task(connections.alarms.run(), name="alarm monitor")
            server = uvicorn.Server(uvicorn.Config(
                create_app(deployer, editor=editor, auth=auth, connections_api=connections),
                host=args.host, port=args.port, log_level="warning", lifespan="off", ws="websockets-sansio",
            ))
            serving = asyncio.create_task(server.serve())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if server.started:
                port = server.servers[0].sockets[0].getsockname()[1]
                log.info("stopping; the server was listening on http://%s:%d", args.host, port)
            server.should_exit = True
            await serving
            stopping.cancel()
            alarms.cancel()
            await asyncio.gather(alarms, return_exceptions=True)
            log.info("draining and stopping the flows")
        log.info("stopped")
        return 0
    finally:
        store.close()


async def _initial_deploy(deployer: Deployer, document: Document | None, editor: bool, path: Path | None) -> None:
    if document is None:
        revision = await deployer.restore()
        log.info("running revision %s", revision if revision is not None else "(none: empty document)")
        return
    if not editor:
        await deployer.runtime.deploy(document)
        log.info("running %s", path)
        return
    _, stored = deployer.current()
    masked, _ = split_secrets(document, deployer.runtime.registry)
    if deployer.store.latest_revision() is not None and doc.dumps(stored) == doc.dumps(masked):
        revision = await deployer.restore()
    else:
        revision, _ = await deployer.deploy(document, deployer.store.latest_revision(), note=f"from {path}")
    log.info("running %s as revision %s", path, revision)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
