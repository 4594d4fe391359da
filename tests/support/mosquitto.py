"""A real Mosquitto broker for tests: ``/usr/sbin/mosquitto`` on a free 127.0.0.1 port.

    broker = Mosquitto(tmp_path)            # persistence on, plain listener
    broker.start()
    ... broker.port ...
    broker.stop(); broker.start()           # same port, same persistence file
    broker.close()                          # the test stops what it started

Options: ``tls=True`` adds a TLS listener (``tls_port``) with a trustme CA and a server
certificate for 127.0.0.1/localhost; ``client_cert=True`` adds a third listener (``mtls_port``)
that requires a client certificate signed by the same CA; ``users={"name": "password"}`` writes a
password file with ``mosquitto_passwd`` and turns anonymous access off. The system broker on 1883
is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def available() -> bool:
    return Path(MOSQUITTO).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One broker process, its config, certificates and persistence under ``directory``."""

    def __init__(
        self,
        directory: str | Path,
        *,
        tls: bool = False,
        client_cert: bool = False,
        users: dict[str, str] | None = None,
        max_inflight: int = 1000,
        max_queued: int = 0,
        persistence: bool = True,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls or client_cert else 0
        self.mtls_port = free_port() if client_cert else 0
        self.users = users or {}
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.persistence = persistence
        self.process: subprocess.Popen[bytes] | None = None
        self.ca_file: Path | None = None
        self.client_cert_file: Path | None = None
        self.client_key_file: Path | None = None
        self.other_ca_file: Path | None = None
        if self.tls_port:
            self._make_certificates()
        self.config_file = self.dir / "mosquitto.conf"
        self.config_file.write_text(self._config())
        self.log_file = self.dir / "mosquitto.log"

    # -- setup ------------------------------------------------------------------------------

    def _make_certificates(self) -> None:
        import trustme

        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert("flowengine-test-client")
        self.ca_file = self.dir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        server.cert_chain_pems[0].write_to_path(str(self.dir / "server.pem"))
        server.private_key_pem.write_to_path(str(self.dir / "server.key"))
        self.client_cert_file = self.dir / "client.pem"
        self.client_key_file = self.dir / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert_file))
        client.private_key_pem.write_to_path(str(self.client_key_file))
        self.other_ca_file = self.dir / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(self.other_ca_file))

    def _config(self) -> str:
        auth = "allow_anonymous true\n"
        if self.users:
            password_file = self.dir / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(password_file), user, password], check=True,
                               capture_output=True, timeout=10)
            password_file.chmod(0o600)
            auth = f"allow_anonymous false\npassword_file {password_file}\n"
        lines = [
            # as root, mosquitto would switch to the "mosquitto" user, who cannot read the test's files
            *(["user root"] if os.geteuid() == 0 else []),
            "per_listener_settings false",
            auth.strip(),
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            "persistence_file mosquitto.db",
            "autosave_interval 1",
            f"max_inflight_messages {self.max_inflight}",
            f"max_queued_messages {self.max_queued}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type subscribe",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls_port:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.ca_file}",
                f"certfile {self.dir / 'server.pem'}",
                f"keyfile {self.dir / 'server.key'}",
            ]
        if self.mtls_port:
            lines += [
                f"listener {self.mtls_port} 127.0.0.1",
                f"cafile {self.ca_file}",
                f"certfile {self.dir / 'server.pem'}",
                f"keyfile {self.dir / 'server.key'}",
                "require_certificate true",
            ]
        return "\n".join(lines) + "\n"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = open(self.log_file, "ab")  # noqa: SIM115 - the process owns it
        try:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config_file)], stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
            )
        finally:
            log.close()
        ports = [p for p in (self.port, self.tls_port, self.mtls_port) if p]
        deadline = time.monotonic() + timeout
        while ports:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", ports[0]), timeout=0.5):
                    ports.pop(0)
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not listen on {ports[0]} within {timeout} s: {self.log()}") from None
                time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker gracefully (SIGTERM: it writes its persistence file)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def close(self) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_size(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def subscribed(self, client_id: str, topic_filter: str, since: int = 0) -> bool:
        """Whether the broker logged a SUBSCRIBE of ``client_id`` to ``topic_filter`` (after byte ``since``
        of its log: see :meth:`log_size`)."""
        if not self.log_file.exists():
            return False
        with open(self.log_file, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        return any(line.split(" ", 1)[-1].startswith(f"{client_id} ") and line.endswith(f" {topic_filter}")
                   for line in text.splitlines())

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_file.read_text(errors="replace")[-4000:]
        return ""

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Peer:
    """An independent MQTT client for tests (paho in its own thread): publishes and collects."""

    def __init__(self, port: int, client_id: str = "", clean: bool = True, username: str = "", password: str = "",
                 **tls: str) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=tls.get("ca"), certfile=tls.get("cert"), keyfile=tls.get("key"))
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = lambda *args: self._connected.set()
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise RuntimeError(f"test peer could not connect to 127.0.0.1:{port}")

    def _on_message(self, client: object, userdata: object, message: object) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload))  # type: ignore[attr-defined]

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos)
        if not self._subscribed.wait(10):
            raise RuntimeError(f"no SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos, retain).wait_for_publish(10)

    def publish_many(self, items: list[tuple[str, bytes | str]], qos: int = 1) -> None:
        infos = [self.client.publish(topic, payload, qos) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(30)

    def received(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    async def wait_count(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        import asyncio

        async with asyncio.timeout(timeout):
            while self.count() < count:
                await asyncio.sleep(0.02)
        return self.received()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def wait_until(condition: object, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``condition()`` until it is true; ``TimeoutError`` after ``timeout`` seconds."""
    import asyncio

    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(interval)
