"""The one MQTT client inside flowengine: paho-mqtt 2.x driven from the asyncio loop.

``mqtt-broker`` config nodes own one :class:`MqttClient` each (one TCP connection per configured
broker); ``mqtt-in`` and ``mqtt-out`` nodes use it through this small interface only, so a faster
client could replace paho behind it:

- :meth:`MqttClient.start` / :meth:`MqttClient.close`: a connection task connects, re-subscribes
  and reconnects with the back-off profile of :data:`STRATEGIES` (``CALM``, ``NORMAL``,
  ``AGGRESSIVE``); state changes (``connecting``, ``connected``, ``disconnected`` with the reason)
  go to every listener added with :meth:`MqttClient.add_listener`.
- :meth:`MqttClient.subscribe` registers a filter (``$share/<group>/<filter>`` for shared
  subscriptions) and a callback; incoming QoS 1/2 messages are acknowledged only when the owner
  calls :meth:`MqttClient.ack` (manual acknowledgement). Acks of messages received on an earlier
  connection are not sent: the broker redelivers those.
- :meth:`MqttClient.publish` takes a message only when the in-flight window has room (returns
  ``False`` otherwise; :meth:`MqttClient.when_ready` calls back, :meth:`MqttClient.wait_ready`
  waits, when there is room); ``on_done`` runs on PUBACK.
  Messages taken before a disconnect are sent again after the reconnect.
- :meth:`MqttClient.pause_reading` stops reading the socket while a flow's queues are full; while
  paused it still reads when our own publishes fill half the window (their PUBACKs are on the same
  socket; not reading them would dead-lock a relay), and stops again once they are acknowledged.
  Mosquitto 2.0 bounds unacknowledged QoS 1 messages (``max_inflight_messages``, MQTT 5's Receive
  Maximum) only until the first acknowledgements; after that it sends its whole queue, so this
  pause is what keeps memory flat under a blast.

How paho is driven: no thread, and paho is kept off the hot path. paho builds and answers the
control packets (CONNECT/CONNACK, SUBSCRIBE/SUBACK, PINGREQ, DISCONNECT, the QoS 2 exchange) and
keeps the keep-alive clock (``loop_misc`` once a second); its socket callbacks tie its writes to the
event loop. The TCP connect and TLS handshake run in an executor thread and paho gets the finished
socket (:meth:`_PahoClient._create_socket`), wrapped in :class:`_BufferedSocket`, which gathers
every write of a loop turn into one ``send``. Reading is ours: 256 KiB at a time, framed here;
QoS 0/1 PUBLISH and PUBACK are decoded here, everything else is handed to paho's packet handler.
QoS 0/1 PUBLISH and PUBACK packets are also encoded here. Profiling showed why: per message paho
made three ``recv`` calls, a ``send`` per packet, an ``MQTTMessage`` with a ``threading.Condition``,
``ReasonCode`` and ``Properties`` objects per PUBACK, and a rescan of its queue per PUBACK; that
capped a paho relay near 5,000 msg/s on this machine. Our window bounds what is in flight, and the
publishes still unacknowledged at a reconnect are sent again (with DUP) by :meth:`MqttClient._resend`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import ssl
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger("flowengine.mqtt")

READ_CHUNK = 256 * 1024
WRITE_LIMIT = 1024 * 1024
"""Bytes gathered for one ``send`` before paho is told the socket would block."""
FLUSH_DELAY = 0.001
"""Seconds a write may wait for others to join it (a PUBACK, a PUBLISH)."""
FLUSH_SIZE = 64 * 1024
"""Bytes gathered that are sent at once, without waiting."""
PARKED = 10_000
"""Messages kept for a subscription that is being replaced (a redeploy) at most."""
READ_BUDGET = 16
"""Socket reads (of READ_CHUNK) in one go before the event loop gets a turn."""


@dataclass(frozen=True)
class Backoff:
    """A reconnect profile: first delay, growth factor, ceiling (seconds); jitter is +-20 %."""

    first: float
    factor: float
    ceiling: float

    def delay(self, attempt: int) -> float:
        base = min(self.ceiling, self.first * self.factor ** max(0, attempt))
        return base * random.uniform(0.8, 1.2)


STRATEGIES: dict[str, Backoff] = {
    "AGGRESSIVE": Backoff(first=0.2, factor=1.5, ceiling=5.0),
    "NORMAL": Backoff(first=1.0, factor=2.0, ceiling=30.0),
    "CALM": Backoff(first=5.0, factor=2.0, ceiling=300.0),
}
"""Seed 004's reconnect strategies as back-off profiles."""


@dataclass
class BrokerSettings:
    """Everything needed to connect (a ``mqtt-broker`` node's config, in Python names)."""

    host: str
    port: int = 1883
    tls: bool = False
    ca: str = ""
    """A CA file path or PEM text; empty means the system's standard CAs."""
    client_cert: str = ""
    """Client certificate (path or PEM) for mutual TLS; needs ``client_key``."""
    client_key: str = ""
    client_id: str = ""
    username: str = ""
    password: str = ""
    protocol: str = "3.1.1"
    keepalive: int = 25
    clean_session: bool = True
    reconnect: str = "NORMAL"
    will: dict[str, Any] | None = None
    """``{"topic", "payload" (str), "qos", "retain"}`` or ``None``."""
    connect_timeout: float = 10.0
    inflight: int = 1000
    """Our own unacknowledged publishes at most; and MQTT 5's Receive Maximum for incoming ones."""

    @property
    def address(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass
class ConnectionState:
    state: str
    """``connecting``, ``connected``, ``disconnected`` or ``closed``."""
    reason: str = ""


@dataclass(slots=True)
class Incoming:
    """One received PUBLISH, as subscribers see it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int
    properties: dict[str, Any] | None
    generation: int
    """The connection it arrived on; an ack for an older connection is not sent."""
    pending: int = 1
    """Subscriptions that still have to ack it (overlapping filters each get it)."""


@dataclass
class Subscription:
    filter: str
    """As given, possibly ``$share/group/filter``."""
    qos: int
    callback: Callable[[Incoming], None]
    match: str = ""
    """The filter without the ``$share/group/`` prefix, which is what topics are matched against."""
    error: str = ""

    def __post_init__(self) -> None:
        self.match = self.filter
        if self.filter.startswith("$share/"):
            parts = self.filter.split("/", 2)
            self.match = parts[2] if len(parts) == 3 else ""


def topic_matches(filter_: str, topic: str) -> bool:
    return paho.topic_matches_sub(filter_, topic)


def describe_error(exc: BaseException, settings: BrokerSettings) -> str:
    """A human reason for a failed connect attempt."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} not trusted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where}: {exc.reason or exc}"
    if settings.tls and isinstance(exc, ConnectionResetError):
        return f"TLS handshake with {where} failed: connection reset (is it a TLS port?)"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {settings.host!r}: {exc.strerror}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer from {where} within {settings.connect_timeout:g} s"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"cannot connect to {where}: {exc}"


def describe_socket_error(exc: BaseException) -> str:
    """Why an established connection broke."""
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE") or "CERTIFICATE_REQUIRED" in reason:
            return f"TLS: the broker requires a client certificate ({reason})"
        if "UNKNOWN_CA" in reason or "BAD_CERTIFICATE" in reason:
            return f"TLS: the broker does not accept our client certificate ({reason})"
        return f"TLS error: {reason}"
    return f"{type(exc).__name__}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"


def _pem_or_path(value: str) -> tuple[str | None, str | None]:
    """(pem text, file path) from a value that is either."""
    if "-----BEGIN" in value:
        return value, None
    return None, value


def tls_context(settings: BrokerSettings) -> ssl.SSLContext:
    """System CAs by default; the CA file (or PEM) instead when given; the client certificate if any."""
    pem, path = _pem_or_path(settings.ca) if settings.ca else (None, None)
    context = ssl.create_default_context(cafile=path, cadata=pem)
    if settings.client_cert:
        cert_pem, cert_path = _pem_or_path(settings.client_cert)
        key_pem, key_path = _pem_or_path(settings.client_key) if settings.client_key else (None, None)
        with tempfile.TemporaryDirectory() as tmp:
            if cert_pem is not None:
                cert_path = os.path.join(tmp, "cert.pem")
                with open(cert_path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
                    handle.write(cert_pem)
            if key_pem is not None:
                key_path = os.path.join(tmp, "key.pem")
                with open(key_path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
                    handle.write(key_pem)
            context.load_cert_chain(cert_path, key_path)  # type: ignore[arg-type]
    return context


def _properties_json(properties: Properties) -> dict[str, Any] | None:
    """MQTT 5 properties as plain JSON data (user properties as ``[[name, value], ...]``)."""
    data: dict[str, Any] = properties.json()  # type: ignore[no-untyped-call]
    if "UserProperty" in data:
        data["UserProperty"] = [list(pair) for pair in data["UserProperty"]]
    return data or None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def encode_publish(topic: str, payload: bytes, qos: int, retain: bool, mid: int, v5: bool) -> bytes:
    """One PUBLISH packet (QoS 0 or 1; no MQTT 5 properties)."""
    name = topic.encode()
    head = len(name).to_bytes(2, "big") + name
    if qos:
        head += mid.to_bytes(2, "big")
    if v5:
        head += b"\x00"
    length = len(head) + len(payload)
    first = 0x30 | (qos << 1) | (1 if retain else 0)
    if length < 0x80:
        return bytes((first, length)) + head + payload
    if length < 0x4000:
        return bytes((first, (length & 0x7F) | 0x80, length >> 7)) + head + payload
    return bytes((first,)) + _varint(length) + head + payload


def _close_unused(future: asyncio.Future[socket.socket]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


class _BufferedSocket:
    """The socket paho sees. Its writes are gathered and sent in one go by :meth:`flush`; it never
    reads (:meth:`MqttClient._on_readable` does, from :attr:`sock`)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.wbuf = bytearray()
        self.error: OSError | None = None
        """The first socket error, which says why the connection broke."""

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def recv(self, size: int) -> bytes:  # pragma: no cover - paho's reader is not used
        raise BlockingIOError()

    def send(self, data: bytes | bytearray) -> int:
        if len(self.wbuf) >= WRITE_LIMIT:
            raise BlockingIOError()
        self.wbuf += data
        return len(data)

    def flush(self) -> None:
        """Write what is gathered; whatever the kernel does not take stays for the next call."""
        while self.wbuf:
            try:
                sent = self.sock.send(self.wbuf)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError as exc:
                if isinstance(exc, ssl.SSLError):
                    try:  # the broker's alert (e.g. "certificate required") says more than the broken write
                        self.sock.recv(1)
                    except ssl.SSLError as alert:
                        if "ALERT" in (alert.reason or ""):
                            exc = alert
                    except OSError:
                        pass
                self.error = self.error or exc
                self.wbuf.clear()
                return
            del self.wbuf[:sent]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()
        self.sock.close()


class _PahoClient(paho.Client):
    """paho with the socket made by us (connect and TLS handshake off the event loop)."""

    prepared: _BufferedSocket | None = None
    deliver: Callable[[paho.MQTTMessage], None] | None = None

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        # paho matches every message against its per-topic callbacks and takes two locks; we have
        # one callback and no threads
        assert self.deliver is not None
        self.deliver(message)

    def _create_socket(self) -> Any:
        sock, self.prepared = self.prepared, None
        if sock is None:
            raise ConnectionError("no prepared socket")
        return sock


class MqttClient:
    """One connection to one broker, shared by every node that refers to the broker."""

    def __init__(self, settings: BrokerSettings, name: str = "") -> None:
        self.settings = settings
        self.name = name or settings.address
        self.state = ConnectionState("disconnected", "not started")
        self.backoff = STRATEGIES.get(settings.reconnect, STRATEGIES["NORMAL"])
        self._listeners: list[Callable[[ConnectionState], None]] = []
        self._subscriptions: list[Subscription] = []
        self._outstanding: dict[int, list[Any]] = {}
        """mid -> [on_done, encoded PUBLISH (None when paho sends it), written on this connection]."""
        self._ready_callbacks: list[Callable[[], None]] = []
        self._pausers: set[object] = set()
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ended: asyncio.Event | None = None
        self._connack: asyncio.Future[str] | None = None
        self._sock: _BufferedSocket | None = None
        self._reading = False
        self._writing = False
        self._flush_scheduled = False
        self._read_scheduled = False
        self._closing = False
        self.attempts = 0
        """Connect attempts since the last successful connection (for tests and status)."""
        self._suback_pending: dict[int, list[Subscription]] = {}
        self._window = settings.inflight
        """Our unacknowledged publishes at most: ``inflight``, or less if an MQTT 5 broker asks."""
        self._v5 = settings.protocol == "5"
        self._rbuf = bytearray()
        self._chunk = memoryview(bytearray(READ_CHUNK))
        """What each ``recv_into`` fills: one buffer for the client's life, where ``recv`` would make
        (and glibc map and unmap) a new 256 KiB object per read."""
        self._qos0_pending: list[tuple[bytes, Callable[[BaseException | None], None] | None]] = []
        self._parked: deque[Incoming] = deque(maxlen=PARKED)
        """Messages that arrived while no subscription matched them (see :meth:`subscribe`)."""
        self._routes: dict[str, list[Subscription]] = {}
        """Topic -> the subscriptions it matches (a cache, cleared when subscriptions change)."""
        self.stats = {"received": 0, "published": 0, "acked": 0, "stale_acks": 0, "connects": 0, "unrouted": 0}
        self._paho = self._make_paho()

    # -- paho setup -------------------------------------------------------------------------

    def _make_paho(self) -> _PahoClient:
        s = self.settings
        v5 = s.protocol == "5"
        client = _PahoClient(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=None if v5 else s.clean_session,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        client.max_inflight_messages_set(0)  # our window bounds it; paho's own limit rescans per PUBACK
        client.max_queued_messages_set(0)
        if s.username or s.password:
            client.username_pw_set(s.username or None, s.password or None)
        if s.will and s.will.get("topic"):
            client.will_set(s.will["topic"], s.will.get("payload", ""), int(s.will.get("qos", 0)), bool(s.will.get("retain", False)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.deliver = self._deliver
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_register_write
        return client

    # -- public interface -------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ConnectionState], None]) -> None:
        self._listeners.append(listener)
        listener(self.state)

    def remove_listener(self, listener: Callable[[ConnectionState], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    @property
    def connected(self) -> bool:
        return self.state.state == "connected"

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see :meth:`wait_connected`)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"mqtt {self.name}")

    async def wait_connected(self) -> None:
        """Wait until connected (wrap in ``asyncio.timeout``)."""
        while not self.connected:
            await self.wait_ready()

    async def close(self) -> None:
        """Disconnect cleanly (DISCONNECT sent, so no will) and stop reconnecting. Safe to call twice."""
        self._closing = True
        task, self._task = self._task, None
        if self.connected and self._sock is not None:
            with contextlib.suppress(Exception):
                self._paho.disconnect()
                self._flush()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._drop_socket()
        self._set_state("closed", "closed")
        self._wake_ready()

    def subscribe(self, filter_: str, qos: int, callback: Callable[[Incoming], None]) -> Subscription:
        sub = Subscription(filter_, qos, callback)
        self._subscriptions.append(sub)
        self._routes.clear()
        if self.connected:
            self._send_subscribe([sub])
        if self._parked:
            parked, self._parked = self._parked, deque(maxlen=PARKED)
            for incoming in parked:
                if incoming.generation == self._generation:
                    self._dispatch(incoming)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.forget(sub)
        if self.connected and not any(s.filter == sub.filter for s in self._subscriptions):
            with contextlib.suppress(Exception):
                self._paho.unsubscribe(sub.filter)

    def forget(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` but keep the subscription at the broker (a persistent session
        keeps queueing for it while the runner is away)."""
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(sub)
        self._routes.clear()

    def ack(self, message: Incoming) -> None:
        """Acknowledge a QoS 1/2 message once every subscription that got it is done with it."""
        message.pending -= 1
        if message.pending > 0 or message.qos == 0:
            return
        if message.generation != self._generation or not self.connected:
            self.stats["stale_acks"] += 1  # the broker redelivers it on the new connection
            return
        self.stats["acked"] += 1
        sock = self._sock
        if message.qos == 1 and sock is not None:
            mid = message.mid
            sock.wbuf += bytes((0x40, 2, mid >> 8, mid & 0xFF))  # PUBACK (MQTT 5: reason 0 implied)
            self._schedule_flush()
        else:
            self._paho.ack(message.mid, message.qos)

    def window_free(self) -> int:
        return self._window - len(self._outstanding)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        on_done: Callable[[BaseException | None], None] | None = None,
    ) -> bool:
        """Hand one message to paho if the in-flight window has room (``False`` if not).

        ``on_done(None)`` runs on PUBACK (QoS 1), PUBCOMP (QoS 2) or once written (QoS 0);
        ``on_done(error)`` when an MQTT 5 broker refuses it."""
        outstanding = self._outstanding
        if len(outstanding) >= self._window or self._closing:
            return False
        self.stats["published"] += 1
        if qos == 2:  # rare: paho keeps the PUBREC/PUBREL/PUBCOMP state
            info = self._paho.publish(topic, payload, qos, retain)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                raise RuntimeError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
            outstanding[info.mid] = [on_done, None, True]
        else:
            mid = 0
            if qos:
                mid = self._next_mid()
            packet = encode_publish(topic, payload, qos, retain, mid, self._v5)
            sock = self._sock
            sent = sock is not None and self.connected
            if sent:
                sock.wbuf += packet  # type: ignore[union-attr]
                self._schedule_flush()
            if qos:
                outstanding[mid] = [on_done, packet, sent]
            elif not sent:
                return self._queue_qos0(packet, on_done)
            elif on_done is not None:
                on_done(None)
        if self._pausers and not self._reading and len(outstanding) * 2 >= self._window:
            self._update_reading()
        return True

    def _next_mid(self) -> int:
        paho_client = self._paho
        while True:
            mid = paho_client._mid_generate()  # noqa: SLF001 - one mid space with paho's SUBSCRIBEs
            if mid not in self._outstanding:
                return mid

    def _queue_qos0(self, packet: bytes, on_done: Callable[[BaseException | None], None] | None) -> bool:
        """QoS 0 while disconnected: sent after the reconnect, like paho does (bounded by the window)."""
        self._qos0_pending.append((packet, on_done))
        return True

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, on the event loop, as soon as the window has room again (a
        PUBACK) or the connection state changes. A sink with a backlog publishes from it there,
        with no task to wake per acknowledgement."""
        self._ready_callbacks.append(callback)
        if self._pausers and not self._reading:
            self._update_reading()

    def cancel_ready(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._ready_callbacks.remove(callback)

    async def wait_ready(self) -> None:
        """Wait until the window has room (or the connection state changes)."""
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.when_ready(wake)
        try:
            await future
        finally:
            self.cancel_ready(wake)

    def pause_reading(self, owner: object) -> None:
        self._pausers.add(owner)
        self._update_reading()

    def resume_reading(self, owner: object) -> None:
        self._pausers.discard(owner)
        self._update_reading()

    # -- the connection task ----------------------------------------------------------------

    async def _run(self) -> None:
        assert self._loop is not None
        while not self._closing:
            reason = await self._connect_once()
            if self._closing:
                break
            if reason is None:  # was connected; wait for it to end
                self.attempts = 0
                assert self._ended is not None
                misc = asyncio.create_task(self._misc())
                try:
                    await self._ended.wait()
                finally:
                    misc.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await misc
                reason = self._end_reason
                self._drop_socket()
            delay = self.backoff.delay(self.attempts)
            self.attempts += 1
            self._set_state("disconnected", f"{reason}; retrying in {delay:.1f} s")
            await asyncio.sleep(delay)

    _end_reason = ""

    async def _connect_once(self) -> str | None:
        """Connect, wait for CONNACK and subscribe; ``None`` when connected, else why not."""
        assert self._loop is not None
        s = self.settings
        self._set_state("connecting", f"connecting to {s.address}")
        opening = self._loop.run_in_executor(None, self._open_socket)
        try:
            raw = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_unused)  # the thread finishes on its own
            raise
        except Exception as exc:  # any failure to connect is reported and retried
            return describe_error(exc, s)
        self._ended = asyncio.Event()
        self._end_reason = "connection lost"
        self._connack = self._loop.create_future()
        self._rbuf.clear()  # a partial packet of the previous connection
        self._paho.prepared = _BufferedSocket(raw)
        try:
            properties = None
            kwargs: dict[str, Any] = {}
            if s.protocol == "5":
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.ReceiveMaximum = max(1, min(65535, s.inflight))
                if not s.clean_session:
                    properties.SessionExpiryInterval = 0xFFFFFFFF
                kwargs = {"clean_start": s.clean_session, "properties": properties}
            self._paho.connect(s.host, s.port, s.keepalive, **kwargs)
        except Exception as exc:  # paho refused to start the session
            self._drop_socket()
            return describe_error(exc, s)
        try:
            async with asyncio.timeout(s.connect_timeout):
                failure = await self._connack
        except TimeoutError:
            failure = f"no CONNACK from {s.host}:{s.port} within {s.connect_timeout:g} s"
        if failure:
            self._drop_socket()
            return failure
        self.stats["connects"] += 1
        self._send_subscribe(self._subscriptions)
        self._resend()
        self._set_state("connected", f"connected to {s.address}")
        self._wake_ready()
        self._update_reading()
        return None

    def _resend(self) -> None:
        """After a (re)connect: the publishes still waiting for their PUBACK go out again (DUP
        set when they went out before), then the QoS 0 messages queued meanwhile."""
        sock = self._sock
        if sock is None:
            return
        for entry in self._outstanding.values():
            packet = entry[1]
            if packet is None:
                continue  # paho re-sends its own
            if entry[2]:
                packet = bytes((packet[0] | 0x08,)) + packet[1:]
            sock.wbuf += packet
            entry[2] = True
        pending, self._qos0_pending = self._qos0_pending, []
        for packet, on_done in pending:
            sock.wbuf += packet
            if on_done is not None:
                on_done(None)
        self._schedule_flush()

    def _open_socket(self) -> socket.socket:
        """TCP connect and TLS handshake (in an executor thread: both block)."""
        s = self.settings
        sock = socket.create_connection((s.host, s.port), timeout=s.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if s.tls:
                context = tls_context(s)
                sock = context.wrap_socket(sock, server_hostname=s.host)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _misc(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._sock is not None:
                self._paho.loop_misc()
                self._schedule_flush()

    def _drop_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            self._sock = None
            self._remove_io(sock)
            with contextlib.suppress(OSError):
                sock.sock.close()
        with contextlib.suppress(Exception):
            self._paho._sock_close()  # noqa: SLF001 - paho has no public "forget the socket"

    # -- paho callbacks (all on the event loop thread) --------------------------------------

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        self._sock = sock
        self._reading = False
        self._writing = False
        self._update_reading()
        self._schedule_flush()

    def _on_socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        self._remove_io(sock)
        error = getattr(sock, "error", None)
        before_connack = self._connack is not None and not self._connack.done()
        if error is not None:
            self._end_reason = f"connection lost: {describe_socket_error(error)}"
        elif before_connack and self._end_reason == "connection lost":
            self._end_reason = "connection closed before CONNACK"
        if before_connack and not self.settings.tls and "TLS" not in self._end_reason:
            self._end_reason += " (does the broker expect TLS on this port?)"
        if sock is self._sock:
            self._sock = None
        if self._ended is not None:
            self._ended.set()
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(self._end_reason or "connection closed by the broker")

    def _on_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._schedule_flush()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, properties: Any) -> None:
        if self._connack is None or self._connack.done():
            return
        if reason.is_failure:
            self._end_reason = f"broker refused the connection: {reason.getName()}"
            self._connack.set_result(self._end_reason)
        else:
            server_maximum = getattr(properties, "ReceiveMaximum", None) if self._v5 else None
            self._window = min(self.settings.inflight, server_maximum or 65535)
            # now, not when _connect_once resumes: a redelivered PUBLISH may follow in the same read,
            # and its acknowledgement must count as this connection's
            self._generation += 1
            self._connack.set_result("")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, properties: Any) -> None:
        if self._connack is not None and not self._connack.done():
            return
        if flags.is_disconnect_packet_from_server and reason is not None:
            self._end_reason = f"disconnected by the broker: {reason.getName()}"
        elif not self._end_reason.startswith("connection lost:"):
            self._end_reason = "connection lost"
        if self._ended is not None:
            self._ended.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any) -> None:
        pending = self._suback_pending.pop(mid, [])
        for sub, reason in zip(pending, reasons, strict=False):
            sub.error = f"subscription to {sub.filter!r} refused: {reason.getName()}" if reason.is_failure else ""
        if any(sub.error for sub in pending):
            self._set_state(self.state.state, "; ".join(sub.error for sub in pending if sub.error))

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        self._deliver(message)

    def _deliver(self, message: paho.MQTTMessage) -> None:
        """A PUBLISH paho decoded (QoS 2 only; QoS 0/1 take :meth:`_fast_publish`)."""
        properties = None
        if message.properties is not None and self._v5:
            properties = _properties_json(message.properties)
        self._dispatch(Incoming(message.topic, bytes(message.payload), message.qos, bool(message.retain), bool(message.dup),
                                message.mid, properties, self._generation, 0))

    def _dispatch(self, incoming: Incoming) -> None:
        self.stats["received"] += 1
        topic = incoming.topic
        matched = self._routes.get(topic)
        if matched is None:
            if len(self._routes) >= 10_000:
                self._routes.clear()
            matched = self._routes[topic] = [sub for sub in self._subscriptions if topic_matches(sub.match, topic)]
        if not matched:
            # no subscriber right now (a node being replaced by a redeploy): kept for the next one;
            # never acknowledged otherwise, so the broker redelivers it after a reconnect
            self.stats["unrouted"] += 1
            self._parked.append(incoming)
            return
        incoming.pending = len(matched)
        for sub in matched:
            sub.callback(incoming)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: ReasonCode, properties: Any) -> None:
        if mid not in self._outstanding:
            return
        on_done = self._outstanding.pop(mid)[0]
        if on_done is not None:
            if reason is not None and reason.is_failure:
                on_done(RuntimeError(f"broker refused the message: {reason.getName()}"))
            else:
                on_done(None)
        if self._ready_callbacks:
            self._wake_ready()

    # -- socket plumbing --------------------------------------------------------------------

    def _send_subscribe(self, subs: list[Subscription]) -> None:
        if not subs:
            return
        if self.settings.protocol == "5":
            topics: list[tuple[str, Any]] = [(sub.filter, SubscribeOptions(qos=sub.qos)) for sub in subs]
        else:
            topics = [(sub.filter, sub.qos) for sub in subs]
        rc, mid = self._paho.subscribe(topics)
        if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
            self._suback_pending[mid] = list(subs)

    def _update_reading(self) -> None:
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        # paused: read only while someone waits for window room (a PUBACK), else a relay on one
        # connection would dead-lock; the read loop stops again at the first PUBACK that frees it
        want = not self._pausers or bool(self._ready_callbacks) or len(self._outstanding) * 2 >= self.settings.inflight
        if want and not self._reading:
            self._reading = True
            loop.add_reader(sock.sock, self._on_readable)
            self._schedule_read()  # packets may wait in our buffer (or in TLS's) with none on the socket
        elif not want and self._reading:
            self._reading = False
            loop.remove_reader(sock.sock)

    def _schedule_read(self) -> None:
        if not self._read_scheduled and self._loop is not None:
            self._read_scheduled = True
            self._loop.call_soon(self._on_readable)

    def _on_readable(self) -> None:
        """Read what the socket has and handle every complete packet: PUBLISH (QoS 0/1) and PUBACK
        here, the rest (CONNACK, SUBACK, PINGRESP, QoS 2, DISCONNECT) by paho."""
        self._read_scheduled = False
        sock = self._sock
        if sock is None or not self._reading:
            return
        buffer = self._rbuf
        chunk = self._chunk
        raw = sock.sock
        for _ in range(READ_BUDGET):
            if buffer and not self._handle_packets(sock):
                break  # paused, or the connection ended
            try:
                size = raw.recv_into(chunk)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as exc:
                sock.error = sock.error or exc
                self._lost(sock, "connection lost")
                return
            if not size:
                self._lost(sock, "connection closed by the broker")
                return
            buffer += chunk[:size]
            self._paho._last_bytes_received = time.monotonic()  # noqa: SLF001 - paho's keep-alive clock
        else:
            if self._reading:
                self._schedule_read()  # more to read; let other tasks run first
        if buffer and self._sock is sock and self._reading:
            self._handle_packets(sock)
        if self._sock is sock:
            if self._pausers:
                self._update_reading()  # paused, read for PUBACKs: stop once the window has room again
            self._flush()

    def _lost(self, sock: _BufferedSocket, reason: str) -> None:
        if self._sock is not sock:
            return
        if sock.error is None and not self._end_reason.startswith("disconnected by"):
            self._end_reason = reason
        self._drop_socket()
        if self._ended is not None:
            self._ended.set()

    def _handle_packets(self, sock: _BufferedSocket) -> bool:
        """Handle the complete packets in the read buffer; ``False`` when reading should stop."""
        buffer = self._rbuf
        size = len(buffer)
        pos = 0
        ok = True
        try:
            fast_publish, fast_puback = self._fast_publish, self._fast_puback
            while size - pos >= 2 and self._reading and self._sock is sock:
                header = buffer[pos]
                byte = buffer[pos + 1]
                if byte < 0x80:  # the common cases: a remaining length under 128 bytes, or under 16,384
                    index, length = pos + 2, byte
                elif size - pos > 2 and buffer[pos + 2] < 0x80:
                    index, length = pos + 3, (byte & 0x7F) | (buffer[pos + 2] << 7)
                else:
                    index, length = self._remaining_length(buffer, pos + 1)
                end = index + length
                if length < 0 or end > size:
                    break
                kind = header & 0xF0
                if kind == 0x30 and header & 0x06 != 0x04:
                    fast_publish(header, buffer, index, end)
                elif kind == 0x40 and length >= 2:
                    fast_puback(buffer, index, end)
                else:
                    pos = end  # paho may close the connection while handling it
                    self._paho_packet(header, bytes(buffer[index:end]))
                    continue
                pos = end
        except Exception as exc:  # a malformed packet (or a bug decoding it): the connection is unusable
            log.exception("mqtt %s: cannot decode a packet", self.name)
            sock.error = sock.error or OSError(f"malformed packet from the broker: {exc!r}")
            self._lost(sock, "connection lost")
            ok = False
        if self._sock is sock:
            del buffer[:pos]
        else:
            buffer.clear()
            ok = False
        return ok and self._reading

    @staticmethod
    def _remaining_length(buffer: bytearray, index: int) -> tuple[int, int]:
        """(where the packet's body starts, its length) from the variable-length integer at
        ``index``; a length of -1 when the buffer does not hold all of it yet."""
        length = shift = 0
        while index < len(buffer):
            byte = buffer[index]
            index += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                return index, length
            shift += 7
            if shift > 21:
                raise ValueError("malformed remaining length")
        return index, -1

    def _paho_packet(self, header: int, body: bytes) -> None:
        client = self._paho
        client._in_packet = {  # noqa: SLF001 - the packet paho's reader would have assembled
            "command": header, "have_remaining": 1, "remaining_count": [], "remaining_mult": 1,
            "remaining_length": len(body), "packet": bytearray(body), "to_process": 0, "pos": 0,
        }
        try:
            rc = client._packet_handle()  # noqa: SLF001
        except Exception as exc:  # paho's MalformedPacket and friends
            log.warning("mqtt %s: bad packet 0x%02x: %s", self.name, header, exc)
            rc = paho.MQTT_ERR_PROTOCOL
        if rc > 0 and self._sock is not None:
            client._loop_rc_handle(rc)  # noqa: SLF001 - closes the socket, calls on_disconnect
        self._schedule_flush()

    def _fast_publish(self, header: int, buffer: bytearray, index: int, end: int) -> None:
        qos = (header >> 1) & 0x03
        topic_end = index + 2 + ((buffer[index] << 8) | buffer[index + 1])
        topic = buffer[index + 2:topic_end].decode()
        index = topic_end
        mid = 0
        if qos:
            mid = (buffer[index] << 8) | buffer[index + 1]
            index += 2
        properties = None
        if self._v5:
            start = index
            length = shift = 0
            while True:
                byte = buffer[index]
                index += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            if length:
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.unpack(bytes(buffer[start:index + length]))  # type: ignore[no-untyped-call]
                properties = _properties_json(props)
                index += length
        self._dispatch(Incoming(topic, bytes(buffer[index:end]), qos, bool(header & 0x01), bool(header & 0x08),
                                mid, properties, self._generation, 0))

    def _fast_puback(self, buffer: bytearray, index: int, end: int) -> None:
        mid = (buffer[index] << 8) | buffer[index + 1]
        entry = self._outstanding.pop(mid, None)
        if entry is None:
            return
        on_done = entry[0]
        if on_done is not None:
            reason = buffer[index + 2] if self._v5 and end - index > 2 else 0
            if reason >= 0x80:
                on_done(RuntimeError(f"broker refused the message: {ReasonCode(PacketTypes.PUBACK, identifier=reason).getName()}"))
            else:
                on_done(None)
        if self._ready_callbacks:
            self._wake_ready()

    def _schedule_flush(self) -> None:
        """Flush soon: within FLUSH_DELAY, so the PUBACKs and PUBLISHes of many messages share one
        ``send`` (a system call per message was the biggest cost in the profile)."""
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            sock = self._sock
            if sock is not None and len(sock.wbuf) >= FLUSH_SIZE:
                self._loop.call_soon(self._flush)
            else:
                self._loop.call_later(FLUSH_DELAY, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        if self._paho.want_write():
            self._paho.loop_write()
            if self._sock is not sock:
                return
        sock.flush()
        if sock.error is not None:
            self._drop_socket()  # paho learns of it through on_socket_close; the run task reconnects
            return
        want = bool(sock.wbuf) or self._paho.want_write()
        if want and not self._writing:
            self._writing = True
            loop.add_writer(sock.sock, self._flush)
        elif not want and self._writing:
            self._writing = False
            loop.remove_writer(sock.sock)

    def _remove_io(self, sock: Any) -> None:
        loop = self._loop
        raw = getattr(sock, "sock", sock)
        if loop is None or raw is None:
            return
        with contextlib.suppress(Exception):
            loop.remove_reader(raw)
        with contextlib.suppress(Exception):
            loop.remove_writer(raw)
        if sock is self._sock or self._sock is None:
            self._reading = False
            self._writing = False

    # -- state ------------------------------------------------------------------------------

    def _set_state(self, state: str, reason: str) -> None:
        if state == self.state.state and reason == self.state.reason:
            return
        self.state = ConnectionState(state, reason)
        log.log(logging.WARNING if state == "disconnected" else logging.INFO, "mqtt %s: %s (%s)", self.name, state, reason)
        for listener in list(self._listeners):
            listener(self.state)
        self._wake_ready()

    def _wake_ready(self) -> None:
        callbacks, self._ready_callbacks = self._ready_callbacks, []
        for callback in callbacks:
            callback()

