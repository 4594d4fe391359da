"""The canonical LoRaWAN uplink, and turning network-server JSON into it.

Every node after a source reads one payload shape, whatever network server the data came from::

    {"type": "uplink",                 # or "join", "gwalive", "downlink"
     "devEui": "0101010101010101",     # 16 lowercase hex digits (None for gateway events)
     "joinEui": "..." | None,
     "fPort": 2, "fCnt": 10,           # None when the source did not say
     "bytes": "00e7641f40",            # the FRMPayload, lowercase hex ("" when empty)
     "receivedAt": "2026-01-01T12:00:00.123456+00:00",   # ISO 8601 with an offset
     "rx": [{"gatewayEui": "...", "rssi": -36, "snr": 10.5}],
     "frequency": 868500000, "sf": 7, "bw": 125,        # Hz, spreading factor, kHz (None if unknown)
     "decoded": {...},                 # only when the network server already decoded it, or after a codec
     "extra": {...}}                   # only when the source had more (ResIOT's channel, seqno, adr...)

A canonical downlink is ``{"type": "downlink", "devEui", "fPort", "bytes", "confirmed",
"reference", "priority"}`` (plus ``receivedAt`` and ``extra`` when it comes from an event).

:func:`detect` tells which network server a JSON object comes from; :func:`normalise` turns it into
the canonical shape. Shapes: ``chirpstack`` (ChirpStack v4 integration events), ``tts`` (The Things
Stack v3 application uplinks and downlink events), ``resiot`` (the ResIOT WebSocket communication
JSON, seed 001), ``generic`` (``{devEui, fPort, payload}`` with a hex or base64 payload) and
``canonical`` (already normalised; checked and passed through). All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

SHAPES = ("chirpstack", "tts", "resiot", "generic", "canonical")
"""Every input shape :func:`normalise` understands, in the order :func:`detect` tries them."""

EventType = Literal["uplink", "join", "gwalive", "downlink"]
EVENT_TYPES: tuple[str, ...] = ("uplink", "join", "gwalive", "downlink")


class RxInfo(TypedDict):
    gatewayEui: str | None
    rssi: float | None
    snr: float | None


class CanonicalUplink(TypedDict):
    type: str
    devEui: str | None
    joinEui: str | None
    fPort: int | None
    fCnt: int | None
    bytes: str
    receivedAt: str | None
    rx: list[RxInfo]
    frequency: int | None
    sf: int | None
    bw: int | None
    decoded: NotRequired[Any]
    extra: NotRequired[dict[str, Any]]


class CanonicalDownlink(TypedDict):
    type: str
    devEui: str | None
    fPort: int | None
    bytes: str
    confirmed: bool
    reference: str | None
    priority: NotRequired[str]
    receivedAt: NotRequired[str | None]
    extra: NotRequired[dict[str, Any]]


class UplinkError(ValueError):
    """The input cannot be normalised; the text names the field and what is wrong with it."""


# -- bytes helpers ----------------------------------------------------------------------------

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})*$")
_EUI = re.compile(r"^[0-9a-f]{16}$")


def is_hex(text: str) -> bool:
    """Whether ``text`` is an even number of hex digits (``""`` is)."""
    return bool(_HEX.match(text))


def hex_to_bytes(text: str, field: str = "payload") -> bytes:
    """Bytes from hex text (spaces and a ``0x`` prefix allowed); an error names the field."""
    cleaned = text.replace(" ", "")
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise UplinkError(f"{field}: not hex: {_short(text)}") from None


def bytes_to_hex(data: bytes | bytearray | list[int]) -> str:
    """Lowercase hex of ``data`` (a list of 0..255 numbers is accepted)."""
    return bytes(data).hex()


def base64_to_bytes(text: str, field: str = "payload") -> bytes:
    """Bytes from standard base64 (padding optional); an error names the field."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise UplinkError(f"{field}: not base64: {_short(text)}") from None


def base64_to_hex(text: str, field: str = "payload") -> str:
    return base64_to_bytes(text, field).hex()


def hex_to_base64(text: str, field: str = "bytes") -> str:
    return base64.b64encode(hex_to_bytes(text, field)).decode("ascii")


Encoding = Literal["auto", "hex", "base64"]


def payload_bytes(value: Any, encoding: str = "auto", field: str = "payload") -> bytes:
    """The bytes of a payload given as hex text, base64 text or a list of byte values.

    With ``encoding="auto"`` text of an even number of hex digits is hex, anything else base64
    (so ``"00ff"`` is hex; give ``encoding="base64"`` for base64 text that happens to look like hex).
    """
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value):
            raise UplinkError(f"{field}: a list payload must hold numbers 0..255")
        return bytes(value)
    if not isinstance(value, str):
        raise UplinkError(f"{field}: expected hex or base64 text, got {type(value).__name__}")
    if encoding == "hex" or (encoding == "auto" and is_hex(value.replace(" ", ""))):
        try:
            return bytes.fromhex(value)  # plain hex, the common case
        except ValueError:
            return hex_to_bytes(value, field)
    return base64_to_bytes(value, field)


def payload_to_hex(value: Any, encoding: str = "auto", field: str = "payload") -> str:
    """The lowercase hex of a payload (see :func:`payload_bytes`)."""
    return payload_bytes(value, encoding, field).hex()


def normalise_eui(value: Any, field: str) -> str | None:
    """A EUI as 16 lowercase hex digits (``-``, ``:`` and spaces removed); ``None`` for empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UplinkError(f"{field}: expected a EUI as hex text, got {type(value).__name__}")
    eui = re.sub(r"[-: ]", "", value).lower()
    if not _EUI.match(eui):
        raise UplinkError(f"{field}: not a 64-bit EUI (16 hex digits): {_short(value)}")
    return eui


def normalise_time(value: Any, field: str) -> str | None:
    """ISO 8601 text with an offset (a time without one is taken as UTC); ``None`` stays ``None``.
    Fractions finer than microseconds (ChirpStack's nanoseconds) are cut to microseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UplinkError(f"{field}: not an ISO 8601 time: {_short(value)}") from None
    else:
        raise UplinkError(f"{field}: expected an ISO 8601 time, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def parse_time(value: str) -> datetime:
    """The timezone-aware datetime of a canonical ``receivedAt``."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- detection ----------------------------------------------------------------------------------

def detect(data: Any) -> str | None:
    """The shape of ``data`` (one of :data:`SHAPES`), or ``None`` when it is none of them."""
    if not isinstance(data, dict):
        return None
    if "deviceInfo" in data and isinstance(data["deviceInfo"], dict):
        return "chirpstack"
    if "end_device_ids" in data and isinstance(data["end_device_ids"], dict):
        return "tts"
    if "CommType" in data or "MsgType" in data:
        return "resiot"
    if data.get("type") in EVENT_TYPES and "bytes" in data:
        return "canonical"
    if "devEui" in data and ("payload" in data or "data" in data):
        return "generic"
    return None


def missing_for(data: Any) -> str:
    """Why :func:`detect` found no shape: what each known shape would need."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    keys = ", ".join(sorted(data)[:12]) or "none"
    return (
        "unknown uplink shape: expected deviceInfo.devEui (ChirpStack v4), end_device_ids.dev_eui "
        "(The Things Stack v3), CommType and DevEui (ResIOT), type and bytes (canonical) or devEui with "
        f"payload (generic); the object has keys: {keys}"
    )


def normalise(
    data: Any,
    shape: str = "auto",
    *,
    event: str | None = None,
    received_at: datetime | str | None = None,
    encoding: str = "auto",
) -> dict[str, Any]:
    """The canonical uplink (or join, gateway-alive or downlink event) of ``data``.

    ``shape`` is ``auto`` (use :func:`detect`) or one of :data:`SHAPES`. ``event`` is the event name
    when the transport tells it (ChirpStack's MQTT topic ends in ``/event/up``, ``/event/join``...).
    ``received_at`` fills ``receivedAt`` when the input has no time. ``encoding`` applies to the
    ``generic`` shape's payload. Raises :class:`UplinkError` naming what is missing or wrong.
    """
    if shape == "auto":
        found = detect(data)
        if found is None:
            raise UplinkError(missing_for(data))
        shape = found
    if not isinstance(data, dict):
        raise UplinkError(f"expected a JSON object, got {type(data).__name__}")
    if shape == "chirpstack":
        result = from_chirpstack(data, event)
    elif shape == "tts":
        result = from_tts(data)
    elif shape == "resiot":
        result = from_resiot(data)
    elif shape == "generic":
        result = from_generic(data, encoding)
    elif shape == "canonical":
        result = from_canonical(data)
    else:
        raise UplinkError(f"unknown shape {shape!r}; expected auto or one of {', '.join(SHAPES)}")
    if result.get("receivedAt") is None and received_at is not None:
        result["receivedAt"] = normalise_time(received_at, "receivedAt")
    return result


def empty_uplink(kind: str = "uplink") -> dict[str, Any]:
    """A canonical uplink with every field present and unknown."""
    return {"type": kind, "devEui": None, "joinEui": None, "fPort": None, "fCnt": None, "bytes": "",
            "receivedAt": None, "rx": [], "frequency": None, "sf": None, "bw": None}


def downlink(dev_eui: str | None, f_port: int | None, hex_bytes: str, *, confirmed: bool = False,
             reference: str | None = None, priority: str | None = None) -> dict[str, Any]:
    """A canonical downlink."""
    result: dict[str, Any] = {"type": "downlink", "devEui": dev_eui, "fPort": f_port, "bytes": hex_bytes,
                              "confirmed": confirmed, "reference": reference}
    if priority is not None:
        result["priority"] = priority
    return result


# -- ChirpStack v4 ------------------------------------------------------------------------------

_CHIRPSTACK_EVENTS = {"up": "uplink", "join": "join", "txack": "downlink", "ack": "downlink"}


def from_chirpstack(data: dict[str, Any], event: str | None = None) -> dict[str, Any]:
    """ChirpStack v4 integration events (JSON marshaler): ``up``, ``join``, ``txack`` and ``ack``.

    Without ``event`` an object with ``fCnt``, ``fPort`` or ``data`` is an ``up``, one with
    ``devAddr`` and none of them a ``join``, and one with ``queueItemId`` a downlink acknowledgement.
    """
    info = data.get("deviceInfo")
    if not isinstance(info, dict) or not info.get("devEui"):
        raise UplinkError("chirpstack: deviceInfo.devEui is missing")
    if event is None:
        if "queueItemId" in data:
            event = "txack" if "gatewayId" in data else "ack"
        elif any(k in data for k in ("fCnt", "fPort", "data", "rxInfo")):
            event = "up"
        elif "devAddr" in data:
            event = "join"
        else:
            raise UplinkError("chirpstack: cannot tell the event: expected fCnt/fPort/data (up), devAddr (join) "
                              "or queueItemId (ack)")
    kind = _CHIRPSTACK_EVENTS.get(event)
    if kind is None:
        raise UplinkError(f"chirpstack: event {event!r} is not an uplink, join or downlink event")
    dev_eui = normalise_eui(info["devEui"], "deviceInfo.devEui")
    extra = {k: info[k] for k in ("deviceName", "applicationId", "applicationName", "tenantId", "deviceProfileName", "tags")
             if info.get(k) not in (None, "", {})}
    for key in ("deduplicationId", "devAddr", "adr", "dr", "confirmed"):
        if key in data:
            extra[key] = data[key]
    if kind == "downlink":
        result = downlink(dev_eui, _int_or_none(data.get("fPort"), "fPort"), "",
                          confirmed=bool(data.get("acknowledged", data.get("confirmed", False))),
                          reference=_str_or_none(data.get("queueItemId")))
        result["receivedAt"] = normalise_time(data.get("time"), "time")
        extra.update({k: data[k] for k in ("fCntDown", "gatewayId", "acknowledged", "downlinkId") if k in data})
        if extra:
            result["extra"] = extra
        return result
    result = empty_uplink(kind)
    result["devEui"] = dev_eui
    result["joinEui"] = normalise_eui(info.get("joinEui") or data.get("joinEui"), "joinEui")
    result["receivedAt"] = normalise_time(data.get("time"), "time")
    if kind == "uplink":
        result["fPort"] = _int_or_none(data.get("fPort", 0 if "data" not in data else None), "fPort")
        result["fCnt"] = _int_or_none(data.get("fCnt", 0), "fCnt")
        result["bytes"] = base64_to_hex(data.get("data") or "", "data")
        result["rx"] = [
            {"gatewayEui": normalise_eui(rx.get("gatewayId"), f"rxInfo[{i}].gatewayId"),
             "rssi": rx.get("rssi"), "snr": rx.get("snr")}
            for i, rx in enumerate(_list(data.get("rxInfo"), "rxInfo"))
        ]
        tx = data.get("txInfo") or {}
        result["frequency"] = _int_or_none(tx.get("frequency"), "txInfo.frequency")
        lora = (tx.get("modulation") or {}).get("lora") or {}
        result["sf"] = _int_or_none(lora.get("spreadingFactor"), "txInfo.modulation.lora.spreadingFactor")
        bandwidth = _int_or_none(lora.get("bandwidth"), "txInfo.modulation.lora.bandwidth")
        result["bw"] = None if bandwidth is None else bandwidth // 1000
        if data.get("object") is not None:
            result["decoded"] = data["object"]
    if extra:
        result["extra"] = extra
    return result


# -- The Things Stack v3 ------------------------------------------------------------------------

_TTS_DOWNLINKS = ("downlink_ack", "downlink_nack", "downlink_sent", "downlink_queued", "downlink_failed")


def from_tts(data: dict[str, Any]) -> dict[str, Any]:
    """The Things Stack v3 application messages: ``uplink_message``, ``join_accept`` and the
    ``downlink_*`` events. Zero values may be absent (protobuf JSON), so a missing ``f_cnt`` is 0."""
    ids = data.get("end_device_ids")
    if not isinstance(ids, dict):
        raise UplinkError("tts: end_device_ids is missing")
    dev_eui = normalise_eui(ids.get("dev_eui"), "end_device_ids.dev_eui")
    if dev_eui is None:
        raise UplinkError("tts: end_device_ids.dev_eui is missing")
    extra: dict[str, Any] = {k: ids[k] for k in ("device_id", "dev_addr") if ids.get(k)}
    application = (ids.get("application_ids") or {}).get("application_id")
    if application:
        extra["application_id"] = application
    for name in _TTS_DOWNLINKS:
        if isinstance(data.get(name), dict):
            item = data[name]
            result: dict[str, Any] = downlink(
                dev_eui, _int_or_none(item.get("f_port"), f"{name}.f_port"),
                base64_to_hex(item.get("frm_payload") or "", f"{name}.frm_payload"),
                confirmed=bool(item.get("confirmed", False)),
                reference=_str_or_none((item.get("correlation_ids") or [None])[0]),
                priority=item.get("priority"),
            )
            result["receivedAt"] = normalise_time(data.get("received_at"), "received_at")
            extra["event"] = name
            if isinstance(item.get("decoded_payload"), dict):
                result["decoded"] = item["decoded_payload"]
            result["extra"] = extra
            return result
    if isinstance(data.get("join_accept"), dict):
        result = empty_uplink("join")
        result["devEui"] = dev_eui
        result["joinEui"] = normalise_eui(ids.get("join_eui"), "end_device_ids.join_eui")
        result["receivedAt"] = normalise_time(data.get("received_at") or data["join_accept"].get("received_at"), "received_at")
        if extra:
            result["extra"] = extra
        return result
    up = data.get("uplink_message")
    if not isinstance(up, dict):
        raise UplinkError("tts: none of uplink_message, join_accept or downlink_* is present")
    result = empty_uplink("uplink")
    result["devEui"] = dev_eui
    result["joinEui"] = normalise_eui(ids.get("join_eui"), "end_device_ids.join_eui")
    result["fPort"] = _int_or_none(up.get("f_port", 0), "uplink_message.f_port")
    result["fCnt"] = _int_or_none(up.get("f_cnt", 0), "uplink_message.f_cnt")
    result["bytes"] = base64_to_hex(up.get("frm_payload") or "", "uplink_message.frm_payload")
    result["receivedAt"] = normalise_time(data.get("received_at") or up.get("received_at"), "received_at")
    result["rx"] = [
        {"gatewayEui": normalise_eui((rx.get("gateway_ids") or {}).get("eui"), f"uplink_message.rx_metadata[{i}].gateway_ids.eui"),
         "rssi": rx.get("rssi", rx.get("channel_rssi")), "snr": rx.get("snr")}
        for i, rx in enumerate(_list(up.get("rx_metadata"), "uplink_message.rx_metadata"))
    ]
    gateway_ids = [(rx.get("gateway_ids") or {}).get("gateway_id") for rx in _list(up.get("rx_metadata"), "")]
    if any(gateway_ids):
        extra["gateway_ids"] = gateway_ids
    settings = up.get("settings") or {}
    result["frequency"] = _int_or_none(settings.get("frequency"), "uplink_message.settings.frequency")
    lora = (settings.get("data_rate") or {}).get("lora") or {}
    result["sf"] = _int_or_none(lora.get("spreading_factor"), "uplink_message.settings.data_rate.lora.spreading_factor")
    bandwidth = _int_or_none(lora.get("bandwidth"), "uplink_message.settings.data_rate.lora.bandwidth")
    result["bw"] = None if bandwidth is None else bandwidth // 1000
    if up.get("decoded_payload") is not None:
        result["decoded"] = up["decoded_payload"]
    if extra:
        result["extra"] = extra
    return result


# -- ResIOT (seed 001) --------------------------------------------------------------------------

_RESIOT_TYPES = {"comm_rx": "uplink", "comm_join": "join", "comm_gwalive": "gwalive", "comm_tx": "downlink"}


def from_resiot(data: dict[str, Any]) -> dict[str, Any]:
    """ResIOT's WebSocket communication JSON: ``comm_rx``, ``comm_join``, ``comm_gwalive``, ``comm_tx``.

    ``Extra`` values (all text) go to ``extra`` as numbers and booleans where they read as such;
    ``rssi``, ``snr``, ``sf`` and ``frequency`` (MHz) become canonical fields (and leave ``extra``);
    ``seqno`` also fills ``fCnt`` and ``modBW`` (kHz) ``bw``. ResIOT gives one rssi/snr per communication: it goes on the first gateway of
    ``GatewayEUIs``.
    """
    comm = data.get("CommType", data.get("MsgType"))
    kind = _RESIOT_TYPES.get(comm) if isinstance(comm, str) else None
    if kind is None:
        raise UplinkError(f"resiot: CommType {comm!r} is not one of {', '.join(_RESIOT_TYPES)}")
    raw_extra = data.get("Extra") or {}
    if isinstance(raw_extra, list):  # the documented form: [{fieldname, fieldvalue}]
        raw_extra = {item.get("fieldname"): item.get("fieldvalue") for item in raw_extra if isinstance(item, dict)}
    if not isinstance(raw_extra, dict):
        raise UplinkError("resiot: Extra must be an object or a list of {fieldname, fieldvalue}")
    extra = {str(k): _text_value(v) for k, v in raw_extra.items()}
    if data.get("Connector"):
        extra["connector"] = data["Connector"]
    dev_eui = normalise_eui(data.get("DevEui") or data.get("DevEUI"), "DevEui")
    port = _int_or_none(data.get("Port") if data.get("Port") != "" else None, "Port")
    payload = data.get("Payload") or ""
    if not isinstance(payload, str):
        raise UplinkError(f"resiot: Payload: expected hex text, got {type(payload).__name__}")
    hex_bytes = hex_to_bytes(payload, "Payload").hex()
    if kind == "downlink":
        priority = extra.get("priority")
        result: dict[str, Any] = downlink(dev_eui, port, hex_bytes, confirmed=bool(data.get("Confirmation", False)),
                                          reference=data.get("Reference") or None,
                                          priority=None if priority is None else str(priority))
        result["receivedAt"] = normalise_time(data.get("DT"), "DT")
        if data.get("Command"):
            extra["command"] = data["Command"]
        if extra:
            result["extra"] = extra
        return result
    if kind in ("uplink", "join") and dev_eui is None:
        raise UplinkError(f"resiot: DevEui is missing for {comm}")
    result = empty_uplink(kind)
    result["devEui"] = dev_eui
    result["joinEui"] = normalise_eui(data.get("AppEui"), "AppEui")
    result["fPort"] = port
    result["bytes"] = hex_bytes
    result["receivedAt"] = normalise_time(data.get("DT"), "DT")
    gateways = _list(data.get("GatewayEUIs"), "GatewayEUIs")
    result["rx"] = [{"gatewayEui": normalise_eui(g, f"GatewayEUIs[{i}]"), "rssi": None, "snr": None}
                    for i, g in enumerate(gateways)]
    if result["rx"]:
        result["rx"][0]["rssi"] = _number_or_none(extra.get("rssi"))
        result["rx"][0]["snr"] = _number_or_none(extra.get("snr"))
    seqno = extra.get("seqno")
    result["fCnt"] = seqno if isinstance(seqno, int) else None
    mhz = _number_or_none(extra.get("frequency"))
    result["frequency"] = None if mhz is None else round(mhz * 1_000_000)
    sf = extra.get("sf")
    result["sf"] = sf if isinstance(sf, int) else None
    bw = _number_or_none(extra.get("modBW"))
    result["bw"] = None if bw is None else int(bw)
    for mapped in ("rssi", "snr", "sf", "frequency"):  # now canonical fields; the rest stays in extra
        extra.pop(mapped, None)
    if extra:
        result["extra"] = extra
    return result


# -- generic and canonical ----------------------------------------------------------------------

def from_generic(data: dict[str, Any], encoding: str = "auto") -> dict[str, Any]:
    """``{devEui, fPort, payload}`` (``payload`` or ``data`` as hex, base64 or a list of byte values),
    with optional ``fCnt``, ``joinEui``, ``receivedAt``/``time``, ``rx``, ``frequency``, ``sf``, ``bw``, ``type``."""
    dev_eui = normalise_eui(data.get("devEui"), "devEui")
    if dev_eui is None:
        raise UplinkError("generic: devEui is missing")
    if "payload" not in data and "data" not in data:
        raise UplinkError("generic: payload is missing")
    kind = data.get("type", "uplink")
    if kind not in EVENT_TYPES:
        raise UplinkError(f"generic: type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    result = empty_uplink(kind)
    result["devEui"] = dev_eui
    result["joinEui"] = normalise_eui(data.get("joinEui"), "joinEui")
    result["fPort"] = _int_or_none(data.get("fPort"), "fPort")
    result["fCnt"] = _int_or_none(data.get("fCnt"), "fCnt")
    field = "payload" if "payload" in data else "data"
    result["bytes"] = payload_to_hex(data[field], encoding, field)
    result["receivedAt"] = normalise_time(data.get("receivedAt", data.get("time")), "receivedAt")
    result["rx"] = _canonical_rx(data.get("rx"))
    for key in ("frequency", "sf", "bw"):
        result[key] = _int_or_none(data.get(key), key)
    for key in ("decoded", "extra"):
        if key in data:
            result[key] = data[key]
    return result


def from_canonical(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical uplink or downlink, checked: EUIs and hex normalised, missing fields added."""
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise UplinkError(f"canonical: type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    if kind == "downlink":
        result = dict(data)
        result["devEui"] = normalise_eui(data.get("devEui"), "devEui")
        result["bytes"] = payload_to_hex(data.get("bytes") or "", "hex", "bytes")
        result.setdefault("confirmed", False)
        result.setdefault("reference", None)
        return result
    result = empty_uplink(kind)
    result.update(data)
    result["devEui"] = normalise_eui(data.get("devEui"), "devEui")
    result["joinEui"] = normalise_eui(data.get("joinEui"), "joinEui")
    result["bytes"] = payload_to_hex(data.get("bytes") or "", "hex", "bytes")
    result["receivedAt"] = normalise_time(data.get("receivedAt"), "receivedAt")
    result["rx"] = _canonical_rx(data.get("rx"))
    return result


# -- small helpers ------------------------------------------------------------------------------

def _canonical_rx(value: Any) -> list[RxInfo]:
    return [
        {"gatewayEui": normalise_eui(rx.get("gatewayEui"), f"rx[{i}].gatewayEui"), "rssi": rx.get("rssi"), "snr": rx.get("snr")}
        for i, rx in enumerate(_list(value, "rx"))
        if isinstance(rx, dict)
    ]


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UplinkError(f"{field}: expected a list, got {type(value).__name__}")
    return value


def _int_or_none(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UplinkError(f"{field}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise UplinkError(f"{field}: expected an integer, got {_short(repr(value))}")


def _number_or_none(value: Any) -> float | int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _text_value(value: Any) -> Any:
    """ResIOT's text values as JSON: "true" -> True, "-18" -> -18, "9.5" -> 9.5, other text unchanged."""
    if not isinstance(value, str):
        return value
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# -- durations (seed 004's uplinkTimeValidity: "5m") ---------------------------------------------

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"
"""JSON Schema pattern of a duration: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d``."""
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``5m`` or ``1h30m``; raises ValueError for anything else."""
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise ValueError(f"not a duration like 500ms, 30s, 5m, 1h30m or 2d: {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
