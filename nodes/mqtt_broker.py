"""``mqtt-broker``: one shared connection to an MQTT broker, used by ``mqtt-in`` and ``mqtt-out``."""

from __future__ import annotations

import uuid
from typing import ClassVar

from flowengine.mqtt_client import STRATEGIES, BrokerSettings, ConnectionState, MqttClient
from flowengine.node import Node, NodeContext
from flowengine.types import JSONObject

STATE_COLORS = {"connected": "green", "connecting": "yellow", "disconnected": "red", "closed": "grey"}


def status_of(state: ConnectionState) -> tuple[str, str]:
    """(text, colour) of a connection state, as every MQTT node shows it."""
    text = state.state if not state.reason or state.state == "closed" else f"{state.state}: {state.reason}"
    return text, STATE_COLORS.get(state.state, "grey")


class MqttBrokerNode(Node):
    """A configured MQTT broker: one TCP (or TLS) connection that every ``mqtt-in`` and ``mqtt-out``
    node referring to it shares. Connects at start and reconnects with the back-off of
    ``reconnectStrategy`` (CALM, NORMAL or AGGRESSIVE); its state (connecting, connected,
    disconnected and why) is its status and the status of the nodes that use it.

    TLS is verified against the system's standard CAs unless ``ca`` gives a CA file or PEM text
    (a private broker); ``certificate`` + ``privateKey`` (file path or PEM) turn on mutual TLS as
    AWS IoT uses it. With ``cleanSession`` off, give a fixed ``clientId``: the broker then keeps the
    subscriptions and the unacknowledged QoS 1 messages across a restart of the runner.
    Reads and writes no messages."""

    type = "mqtt-broker"
    category = "config"
    inputs = 0
    outputs = 0
    label = "MQTT broker"
    color = "#d8bfd8"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["host"],
        "properties": {
            "host": {"title": "Host", "type": "string", "minLength": 1, "description": "Host name or IP address of the broker."},
            "port": {"title": "Port", "type": "integer", "minimum": 1, "maximum": 65535, "description": "TCP port: 1883 for plain MQTT, usually 8883 with TLS.", "default": 1883},
            "tls": {"title": "Use TLS", "type": "boolean", "description": "Encrypt the connection; the broker's certificate is verified.", "default": False},
            "ca": {"title": "CA certificate", "type": "string", "format": "code", "description": "A CA file path or PEM text for a private broker; empty uses the system's standard CAs.", "default": ""},
            "certificate": {"title": "Client certificate", "type": "string", "format": "password", "writeOnly": True, "description": "Client certificate (file path or PEM) for mutual TLS; needs the private key.", "default": ""},
            "privateKey": {"title": "Client private key", "type": "string", "format": "password", "writeOnly": True, "description": "Private key (file path or PEM) of the client certificate.", "default": ""},
            "clientId": {"title": "Client id", "type": "string", "maxLength": 65535, "description": "MQTT client id; empty makes a random one (only with a clean session).", "default": ""},
            "username": {"title": "User name", "type": "string", "description": "User name (seed 002: the device key id); empty for none.", "default": ""},
            "password": {"title": "Password", "type": "string", "format": "password", "writeOnly": True, "description": "Password (seed 002: the device key secret); empty for none.", "default": ""},
            "protocol": {"title": "MQTT version", "type": "string", "enum": ["3.1.1", "5"], "description": "Protocol version.", "default": "3.1.1"},
            "keepalive": {"title": "Keep-alive (s)", "type": "integer", "minimum": 5, "maximum": 65535, "description": "Seconds between pings when idle (seed 002 asks 25).", "default": 25},
            "cleanSession": {"title": "Clean session", "type": "boolean", "description": "Start without the broker's stored session; turn off (with a fixed client id) for at-least-once across restarts.", "default": True},
            "reconnectStrategy": {"title": "Reconnect strategy", "type": "string", "enum": list(STRATEGIES), "description": "Back-off between attempts: AGGRESSIVE 0.2 s up to 5 s, NORMAL 1 s up to 30 s, CALM 5 s up to 5 min.", "default": "NORMAL"},
            "connectTimeout": {"title": "Connect timeout (s)", "type": "number", "exclusiveMinimum": 0, "description": "How long one connect attempt (TCP, TLS, CONNACK) may take.", "default": 10},
            "inflight": {"title": "In-flight window", "type": "integer", "minimum": 1, "maximum": 65535, "description": "Publishes awaiting PUBACK at most; with MQTT 5 also the Receive Maximum asked of the broker.", "default": 1000},
            "willTopic": {"title": "Will topic", "type": "string", "description": "Topic of the last-will message the broker publishes if the connection is lost; empty for none.", "default": ""},
            "willPayload": {"title": "Will payload", "type": "string", "description": "Payload (text) of the will message.", "default": ""},
            "willQos": {"title": "Will QoS", "type": "integer", "enum": [0, 1, 2], "description": "QoS of the will message.", "default": 0},
            "willRetain": {"title": "Will retain", "type": "boolean", "description": "Publish the will message retained.", "default": False},
        },
    }

    client: MqttClient

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems = []
        if not config.get("cleanSession", True) and not config.get("clientId"):
            problems.append(("/clientId", "a fixed client id is needed when clean session is off"))
        if bool(config.get("certificate")) != bool(config.get("privateKey")):
            problems.append(("/privateKey", "a client certificate and its private key go together"))
        if config.get("certificate") and not config.get("tls"):
            problems.append(("/tls", "a client certificate needs TLS"))
        if any(c in config.get("willTopic", "") for c in "+#"):
            problems.append(("/willTopic", "a will topic cannot contain wildcards"))
        return problems

    @staticmethod
    def settings(config: JSONObject) -> BrokerSettings:
        will = None
        if config["willTopic"]:
            will = {"topic": config["willTopic"], "payload": config["willPayload"], "qos": config["willQos"], "retain": config["willRetain"]}
        return BrokerSettings(
            host=config["host"],
            port=config["port"],
            tls=config["tls"],
            ca=config["ca"],
            client_cert=config["certificate"],
            client_key=config["privateKey"],
            client_id=config["clientId"] or f"flowengine-{uuid.uuid4().hex[:12]}",
            username=config["username"],
            password=config["password"],
            protocol=config["protocol"],
            keepalive=config["keepalive"],
            clean_session=config["cleanSession"],
            reconnect=config["reconnectStrategy"],
            will=will,
            connect_timeout=float(config["connectTimeout"]),
            inflight=config["inflight"],
        )

    def __init__(self, config: JSONObject, context: NodeContext) -> None:
        super().__init__(config, context)
        self.client = MqttClient(self.settings(config), name=f"{self.id} {config['host']}:{config['port']}")

    async def start(self) -> None:
        self.client.add_listener(self._show)
        await self.client.start()

    def _show(self, state: ConnectionState) -> None:
        text, color = status_of(state)
        self.status(text, color, state=state.state, reason=state.reason)

    async def stop(self) -> None:
        await self.client.close()
        self.client.remove_listener(self._show)
