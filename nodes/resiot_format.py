"""``resiot-format``: canonical uplink -> ResIOT communication JSON (seed 001)."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowengine import paths, resiot
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


def zone_problem(name: str, pointer: str) -> list[tuple[str, str]]:
    """A config problem when ``name`` is not an IANA timezone (empty is fine)."""
    if not name:
        return []
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [(pointer, f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Paris')")]
    return []


class ResiotFormatNode(Node):
    """Turns the canonical payload (``payload.type`` uplink/join/gwalive/downlink) into the
    communication JSON of ResIOT's WebSocket (seed 001): ``CommType`` (comm_rx, comm_join,
    comm_gwalive, comm_tx), ``Connector``, ``AppEui``, ``DevEui``, ``Port`` (a string),
    ``GatewayEUIs``, hex ``Payload``, ``Extra`` (rssi, snr, sf, frequency in MHz, modBW, seqno and
    the network server's own ``payload.extra`` fields such as channel, adr, duplicate, all as
    strings) and ``DT`` (``receivedAt``, ISO 8601 with offset). Use it in front of an MQTT or HTTP
    sink that must speak the ResIOT format. A payload that already is a communication passes
    unchanged; anything else that is not canonical fails that message.

    Reads: ``payload`` (canonical: devEui, joinEui, fPort, fCnt, bytes, receivedAt, rx, frequency,
    sf, bw, extra, connector). Writes: the field ``field`` (default ``payload``)."""

    type = "resiot-format"
    category = "transform"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "connector": {"title": "Connector", "type": "string", "description": "The Connector ID written when the payload names none (payload.connector or payload.extra.connector).", "default": ""},
            "timezone": {"title": "Timezone of DT", "type": "string", "description": "IANA timezone to express DT in (e.g. 'Europe/Rome'); empty keeps the offset of receivedAt.", "default": ""},
            "field": {"title": "Write to", "type": "string", "description": "Dotted path of the field that receives the communication JSON.", "default": "payload"},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        return zone_problem(config["timezone"], "/timezone")

    async def start(self) -> None:
        self._tz = ZoneInfo(self.config["timezone"]) if self.config["timezone"] else None

    async def on_message(self, msg: Message) -> Message:
        communication = resiot.to_communication(
            msg.payload, connector=self.config["connector"], now=self.clock.now(), tz=self._tz)
        paths.set(msg, self.config["field"], communication)
        return msg
