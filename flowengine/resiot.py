"""The ResIOT WebSocket data model (seed 001), as pure functions.

Two directions:

- :func:`to_communication` turns a canonical payload (DESIGN.md: ``uplink``, ``join``,
  ``gwalive``, ``downlink``) into the communication JSON that ResIOT's WebSocket sends for every
  device communication::

      {"CommType": "comm_rx", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
       "DevEui": "0732227a557d8679", "Port": "128", "GatewayEUIs": ["218000ac0000a05f"],
       "Payload": "9b690291010f1b2401ce01c0",
       "Extra": {"adr": "true", "channel": "4", "duplicate": "false", "frequency": "867.3",
                 "modBW": "125", "rssi": "-18", "seqno": "1953", "sf": "7", "snr": "9.5"},
       "DT": "2017-06-15T09:36:46.529531+02:00"}

  ``Extra`` values are strings as in the seed: ``rssi``/``snr`` of the gateway that heard the
  device best, ``sf``, ``frequency`` in MHz, ``modBW`` (bandwidth, kHz) and ``seqno`` (fCnt)
  from the canonical fields, then every entry of the payload's ``extra`` object (``channel``,
  ``adr``, ``duplicate`` ... as the network server reported them; they win over the computed
  ones). A downlink becomes a ``comm_tx`` in the seed's shape (``Command``, ``Reference``,
  ``Confirmation``, ``Extra: {priority, window}``). A payload that already is a communication
  (it has ``CommType``) is returned unchanged.

- :func:`parse_tx` validates a downlink command a WebSocket client sends::

      {"function": "TX", "Payload": "HI!", "AppEui": "ABCDEF1234567890",
       "DevEui": "0987654321ABCDEF", "Connector": "", "Port": 50, "Reference": "abcdefgh",
       "Raw": true, "Confirm": true}

  and returns the canonical downlink ``{"type": "downlink", "devEui", "fPort", "bytes" (hex),
  "confirmed", "reference", "appEui", "connector"}``, or raises :class:`CommandError` whose text
  is the ``Details`` of the ``{"Result": "Fail", ...}`` answer (:func:`reply`).

  Rules: ``function`` (must be ``"TX"``), ``AppEui``, ``DevEui`` (or the seed's spelling
  ``DevEUI``) and ``Port`` are required. EUIs are 16 hex digits (any case; lowercased).
  ``Port`` is an integer 1-223 (a string of digits is accepted, as ResIOT's communications carry
  ports as strings). ``Payload`` is optional (an empty downlink is valid LoRaWAN): hex when
  ``Raw`` is false (the default), text sent as its UTF-8 bytes when ``Raw`` is true; at most
  242 bytes. ``Raw`` and ``Confirm`` are booleans, false when omitted. ``Connector``,
  ``Reference`` and ``WSCommand`` are optional strings; other fields are ignored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo
from typing import Any

from flowengine.types import JSONObject

COMM_TYPES = {"uplink": "comm_rx", "join": "comm_join", "gwalive": "comm_gwalive", "downlink": "comm_tx"}
"""Canonical ``type`` -> ResIOT ``CommType``."""

MAX_DOWNLINK_BYTES = 242
"""The largest LoRaWAN application payload (FRMPayload at the fastest data rate)."""

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_EUI = re.compile(r"[0-9a-fA-F]{16}")


class CommandError(ValueError):
    """A downlink command that cannot be run; the text is the ``Details`` sent back."""


# -- canonical -> communication --------------------------------------------------------------


def to_communication(
    payload: Any, *, connector: str = "", now: datetime | None = None, tz: tzinfo | None = None
) -> JSONObject:
    """The ResIOT communication JSON of a canonical payload.

    ``connector`` is used when the payload names none (``connector`` or ``extra.connector``);
    ``now`` is the time used when the payload has no ``receivedAt`` (a downlink); ``tz``, when
    given, converts ``DT`` to that timezone (otherwise the payload's own offset is kept).
    Raises :class:`ValueError` naming the field for a payload that is not canonical.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"payload: expected a canonical uplink object, got {type(payload).__name__}")
    if "CommType" in payload:
        return payload
    kind = payload.get("type", "uplink")
    comm_type = COMM_TYPES.get(kind) if isinstance(kind, str) else None
    if comm_type is None:
        raise ValueError(f"payload.type: {kind!r} is not one of {sorted(COMM_TYPES)}")
    extra = payload.get("extra")
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise ValueError(f"payload.extra: expected an object, got {type(extra).__name__}")
    connector = _text(payload.get("connector") or extra.get("connector") or connector)
    dt = _timestamp(payload.get("receivedAt"), now, tz)
    app_eui = _text(payload.get("joinEui") or payload.get("appEui") or "")
    dev_eui = _text(payload.get("devEui") or "")
    data = _hex(payload.get("bytes"))

    if comm_type == "comm_tx":
        return {
            "CommType": comm_type,
            "Connector": connector,
            "AppEui": app_eui,
            "DevEui": dev_eui,
            "Port": _port(payload.get("fPort")),
            "Payload": data,
            "Command": _text(payload.get("command") or extra.get("command") or ""),
            "Reference": _text(payload.get("reference") or ""),
            "Confirmation": bool(payload.get("confirmed", False)),
            "Extra": {"priority": payload.get("priority", extra.get("priority", 0)),
                      "window": extra.get("window", "BOTH")},
            "DT": dt,
        }

    rx = payload.get("rx")
    rx = [] if rx is None else rx
    if not isinstance(rx, list):
        raise ValueError(f"payload.rx: expected a list, got {type(rx).__name__}")
    gateways = [_text(r["gatewayEui"]) for r in rx if isinstance(r, dict) and r.get("gatewayEui")]
    if not gateways and payload.get("gatewayEui"):
        gateways = [_text(payload["gatewayEui"])]
    communication: JSONObject = {
        "CommType": comm_type,
        "Connector": connector,
        "AppEui": app_eui,
        "DevEui": dev_eui if comm_type != "comm_gwalive" else "",
        "Port": _port(payload.get("fPort")) if comm_type == "comm_rx" else "",
        "GatewayEUIs": gateways,
        "Payload": data if comm_type == "comm_rx" else "",
        "Extra": _extra(payload, rx, extra) if comm_type == "comm_rx" else {},
        "DT": dt,
    }
    return communication


def _extra(payload: JSONObject, rx: list[Any], extra: JSONObject) -> dict[str, str]:
    values: dict[str, Any] = {}
    heard = [r for r in rx if isinstance(r, dict) and isinstance(r.get("rssi"), (int, float))]
    if heard:
        best = max(heard, key=lambda r: r["rssi"])
        values["rssi"] = best["rssi"]
        if best.get("snr") is not None:
            values["snr"] = best["snr"]
    if payload.get("sf") is not None:
        values["sf"] = payload["sf"]
    frequency = payload.get("frequency")
    if isinstance(frequency, (int, float)) and not isinstance(frequency, bool):
        values["frequency"] = frequency / 1_000_000 if frequency > 10_000 else frequency
    if payload.get("bw") is not None:
        values["modBW"] = payload["bw"]
    if payload.get("fCnt") is not None:
        values["seqno"] = payload["fCnt"]
    for key, value in extra.items():
        if key != "connector":
            values[key] = value
    return {key: _text(values[key]) for key in sorted(values)}


def _text(value: Any) -> str:
    """A value as ResIOT writes it in a communication: ``true``, ``9.5``, ``-18``, ``867.3``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(round(value, 9))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _port(value: Any) -> str:
    return "" if value is None else _text(value)


def _hex(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError(f"payload.bytes: expected hex text, got {value!r}")
    return value.lower()


def _timestamp(value: Any, now: datetime | None, tz: tzinfo | None) -> str:
    if value in (None, ""):
        when = now or datetime.now(UTC)
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"payload.receivedAt: not an ISO 8601 time: {value!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    else:
        raise ValueError(f"payload.receivedAt: expected ISO 8601 text, got {value!r}")
    if tz is not None:
        when = when.astimezone(tz)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat()


# -- downlink command -> canonical downlink --------------------------------------------------


def parse_tx(command: Any) -> JSONObject:
    """The canonical downlink of a TX command, or :class:`CommandError` saying what is wrong."""
    if not isinstance(command, dict):
        raise CommandError(f"expected a JSON object, got {_kind(command)}")
    if "function" not in command:
        raise CommandError("function: required")
    if command["function"] != "TX":
        raise CommandError(f"function: {command['function']!r} is not supported; only 'TX' is")

    if "AppEui" not in command:
        raise CommandError("AppEui: required")
    app_eui = _eui(command["AppEui"], "AppEui")
    if "DevEui" in command and "DevEUI" in command and str(command["DevEui"]).lower() != str(command["DevEUI"]).lower():
        raise CommandError("DevEui and DevEUI are both given and differ")
    key = "DevEui" if "DevEui" in command else "DevEUI"
    if key not in command:
        raise CommandError("DevEui: required (or DevEUI)")
    dev_eui = _eui(command[key], key)

    if "Port" not in command:
        raise CommandError("Port: required")
    port = command["Port"]
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, float) and port.is_integer():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 223:
        raise CommandError(f"Port: expected an integer from 1 to 223, got {port!r}")

    raw = _flag(command, "Raw")
    confirm = _flag(command, "Confirm")
    connector = _optional_text(command, "Connector")
    reference = _optional_text(command, "Reference")
    _optional_text(command, "WSCommand")

    payload = command.get("Payload")
    if payload is None:
        payload = ""
    if not isinstance(payload, str):
        raise CommandError(f"Payload: expected a string, got {_kind(payload)}")
    if raw:
        data = payload.encode("utf-8")
    else:
        if len(payload) % 2:
            raise CommandError(f"Payload: hex text has an odd number of digits ({len(payload)}); set Raw to true to send text")
        bad = next((i for i, c in enumerate(payload) if c not in "0123456789abcdefABCDEF"), None)
        if bad is not None:
            raise CommandError(f"Payload: not hex at character {bad} ({payload[bad]!r}); set Raw to true to send text")
        data = bytes.fromhex(payload)
    if len(data) > MAX_DOWNLINK_BYTES:
        raise CommandError(f"Payload: {len(data)} bytes; a LoRaWAN downlink carries at most {MAX_DOWNLINK_BYTES}")

    return {
        "type": "downlink",
        "devEui": dev_eui,
        "fPort": port,
        "bytes": data.hex(),
        "confirmed": confirm,
        "reference": reference or None,
        "appEui": app_eui,
        "connector": connector,
    }


def reference_of(command: Any) -> str:
    """The ``Reference`` of a command, or ``""`` (for the answer, also when the command is bad)."""
    if isinstance(command, dict) and isinstance(command.get("Reference"), (str, int)):
        return str(command["Reference"])
    return ""


def reply(success: bool, details: str = "", reference: str = "") -> JSONObject:
    """The answer to a command: ``{"Result": "Success"|"Fail", "Details", "Reference"}``."""
    return {"Result": "Success" if success else "Fail", "Details": details, "Reference": reference}


def _eui(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _EUI.fullmatch(value):
        raise CommandError(f"{field}: expected 16 hex digits, got {value!r}")
    return value.lower()


def _flag(command: JSONObject, field: str) -> bool:
    value = command.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CommandError(f"{field}: expected true or false, got {value!r}")
    return value


def _optional_text(command: JSONObject, field: str) -> str:
    value = command.get(field)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and field == "Reference":
        return str(value)
    if not isinstance(value, str):
        raise CommandError(f"{field}: expected a string, got {value!r}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
