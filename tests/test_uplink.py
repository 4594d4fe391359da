"""The canonical uplink: network-server samples written from their documentation, and the helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowengine import uplink
from flowengine.uplink import UplinkError

SAMPLES = Path(__file__).parent / "fixtures" / "codecs" / "uplinks"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def test_chirpstack_v4_up() -> None:
    result = uplink.normalise(sample("chirpstack_up.json"))
    assert result["type"] == "uplink"
    assert result["devEui"] == "0101010101010101"
    assert (result["fPort"], result["fCnt"], result["bytes"]) == (1, 4, "00e7641f40")
    assert result["receivedAt"] == "2022-07-18T09:34:15.775023+00:00"
    assert result["rx"] == [
        {"gatewayEui": "0016c001f153a14c", "rssi": -36, "snr": 10.5},
        {"gatewayEui": "0016c001f1500812", "rssi": -88, "snr": -2.25},
    ]
    assert (result["frequency"], result["sf"], result["bw"]) == (868500000, 7, 125)
    assert result["decoded"] == {"temperatureSensor": {"1": 23.1}}
    assert result["extra"]["devAddr"] == "00189440" and result["extra"]["deviceName"] == "Test device"


def test_chirpstack_join_and_txack_keep_their_type() -> None:
    join = uplink.normalise(sample("chirpstack_join.json"))
    assert join["type"] == "join" and join["devEui"] == "0101010101010101" and join["bytes"] == ""
    ack = uplink.normalise(sample("chirpstack_txack.json"))
    assert ack["type"] == "downlink" and ack["reference"] == "4cc5ac8e-d7d4-4d6e-bf11-6a8a2c10e6e7"
    assert ack["extra"]["fCntDown"] == 7


def test_chirpstack_event_from_the_caller_wins() -> None:
    with pytest.raises(UplinkError, match="'status' is not an uplink"):
        uplink.normalise(sample("chirpstack_up.json"), event="status")
    assert uplink.normalise(sample("chirpstack_join.json"), event="join")["type"] == "join"


def test_the_things_stack_v3_uplink() -> None:
    result = uplink.normalise(sample("tts_uplink.json"))
    assert result == {
        "type": "uplink",
        "devEui": "0004a30b001c0530",
        "joinEui": "800000000000000c",
        "fPort": 2,
        "fCnt": 1467,
        "bytes": "08e71f40",
        "receivedAt": "2020-02-12T15:15:45.787000+00:00",
        "rx": [{"gatewayEui": "9c5c8e00001a05c4", "rssi": -35, "snr": 8.2}],
        "frequency": 868500000,
        "sf": 7,
        "bw": 125,
        "decoded": {"temperature": 22.79},
        "extra": {"device_id": "dev1", "dev_addr": "00BCB929", "application_id": "app1", "gateway_ids": ["gtw1"]},
    }


def test_the_things_stack_omits_zero_values() -> None:
    data = sample("tts_uplink.json")
    del data["uplink_message"]["f_cnt"]
    del data["uplink_message"]["frm_payload"]
    result = uplink.normalise(data)
    assert result["fCnt"] == 0 and result["bytes"] == ""


def test_the_things_stack_join_and_downlink() -> None:
    join = uplink.normalise(sample("tts_join_accept.json"))
    assert join["type"] == "join" and join["joinEui"] == "800000000000000c"
    ack = uplink.normalise(sample("tts_downlink_ack.json"))
    assert ack["type"] == "downlink"
    assert (ack["fPort"], ack["bytes"], ack["confirmed"], ack["priority"]) == (15, "beef", True, "NORMAL")
    assert ack["extra"]["event"] == "downlink_ack"


def test_resiot_rx_from_seed_001() -> None:
    result = uplink.normalise(sample("resiot_rx.json"))
    assert result == {
        "type": "uplink",
        "devEui": "0732227a557d8679",
        "joinEui": "006c3b194374ac7f",
        "fPort": 128,
        "fCnt": 1953,
        "bytes": "9b690291010f1b2401ce01c0",
        "receivedAt": "2017-06-15T09:36:46.529531+02:00",
        "rx": [{"gatewayEui": "218000ac0000a05f", "rssi": -18, "snr": 9.5}],
        "frequency": 867300000,
        "sf": 7,
        "bw": 125,
        "extra": {"adr": True, "channel": 4, "duplicate": False, "modBW": 125, "seqno": 1953, "connector": "636f6e313332"},
    }


def test_resiot_join_gwalive_and_tx() -> None:
    join = uplink.normalise(sample("resiot_join.json"))
    assert (join["type"], join["devEui"], join["fPort"]) == ("join", "0732227a557d8679", None)
    alive = uplink.normalise(sample("resiot_gwalive.json"))
    assert alive["type"] == "gwalive" and alive["devEui"] is None
    assert alive["rx"] == [{"gatewayEui": "218000ac0000a05f", "rssi": None, "snr": None}]
    tx = uplink.normalise(sample("resiot_tx.json"))
    assert (tx["type"], tx["fPort"], tx["bytes"], tx["confirmed"], tx["reference"]) == ("downlink", 1, "2525", False, None)
    assert tx["extra"]["window"] == "BOTH"


def test_resiot_documented_extra_list_form() -> None:
    data = sample("resiot_rx.json")
    data["Extra"] = [{"fieldname": "rssi", "fieldvalue": "-90"}, {"fieldname": "custom", "fieldvalue": "x"}]
    result = uplink.normalise(data)
    assert result["rx"][0]["rssi"] == -90 and result["extra"]["custom"] == "x"


def test_generic_hex_and_base64() -> None:
    hex_form = uplink.normalise(sample("generic_hex.json"), received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert hex_form["devEui"] == "70b3d57ed0000001" and hex_form["bytes"] == "00e7641f40"
    assert hex_form["receivedAt"] == "2026-01-01T00:00:00+00:00"
    b64 = uplink.normalise(sample("generic_base64.json"))
    assert b64["bytes"] == "00e7641f40" and b64["devEui"] == "70b3d57ed0000001"
    assert b64["receivedAt"] == "2026-03-01T10:00:00+00:00"
    forced = uplink.normalise({"devEui": "0101010101010101", "fPort": 1, "payload": "AAAA"}, encoding="base64")
    assert forced["bytes"] == "000000"
    assert uplink.normalise({"devEui": "0101010101010101", "fPort": 1, "payload": [1, 255]})["bytes"] == "01ff"


def test_detection_and_override() -> None:
    assert [uplink.detect(sample(n)) for n in ("chirpstack_up.json", "tts_uplink.json", "resiot_rx.json", "generic_hex.json")] == [
        "chirpstack", "tts", "resiot", "generic"]
    canonical = uplink.normalise(sample("tts_uplink.json"))
    assert uplink.detect(canonical) == "canonical"
    assert uplink.normalise(canonical) == canonical
    with pytest.raises(UplinkError, match="generic: devEui is missing"):
        uplink.normalise(sample("tts_uplink.json"), "generic")


def test_unknown_shape_says_what_is_missing() -> None:
    with pytest.raises(UplinkError) as info:
        uplink.normalise({"temperature": 21})
    text = str(info.value)
    assert "deviceInfo.devEui" in text and "end_device_ids.dev_eui" in text and "CommType" in text
    assert "keys: temperature" in text
    with pytest.raises(UplinkError, match="expected a JSON object, got list"):
        uplink.normalise([1, 2])


@pytest.mark.parametrize(("data", "message"), [
    ({"deviceInfo": {"devEui": "0101"}, "fPort": 1, "data": ""}, "deviceInfo.devEui: not a 64-bit EUI"),
    ({"deviceInfo": {"devEui": "0101010101010101"}, "fPort": 1, "data": "!!"}, "data: not base64"),
    ({"deviceInfo": {"devEui": "0101010101010101"}, "fPort": "x", "data": ""}, "fPort: expected an integer"),
    ({"CommType": "comm_rx", "DevEui": "0732227a557d8679", "Payload": "zz"}, "Payload: not hex"),
    ({"CommType": "comm_what"}, "CommType 'comm_what'"),
    ({"end_device_ids": {"dev_eui": "0004A30B001C0530"}}, "none of uplink_message"),
    ({"devEui": "0101010101010101", "payload": "00", "receivedAt": "yesterday"}, "receivedAt: not an ISO 8601 time"),
])
def test_bad_fields_are_named(data: dict, message: str) -> None:
    with pytest.raises(UplinkError, match=message):
        uplink.normalise(data)


def test_byte_helpers() -> None:
    assert uplink.hex_to_bytes("0x01 FF") == b"\x01\xff"
    assert uplink.bytes_to_hex([1, 255]) == "01ff"
    assert uplink.base64_to_hex("AOdkH0A") == "00e7641f40"  # padding optional
    assert uplink.hex_to_base64("00e7641f40") == "AOdkH0A="
    assert uplink.payload_to_hex("00E7", "auto") == "00e7"
    assert uplink.payload_to_hex("AOc=", "auto") == "00e7"
    assert uplink.payload_to_hex(None) == ""
    with pytest.raises(UplinkError, match="0..255"):
        uplink.payload_to_hex([256])
    assert uplink.normalise_eui("70-B3-D5-7E-D0-00-00-01", "x") == "70b3d57ed0000001"
    assert uplink.normalise_time("2026-01-01T00:00:00", "t") == "2026-01-01T00:00:00+00:00"
    assert uplink.normalise_time(1767225600000, "t") == "2026-01-01T00:00:00+00:00"


def test_durations() -> None:
    assert uplink.parse_duration("5m") == 300
    assert uplink.parse_duration("1h30m") == 5400
    assert uplink.parse_duration("250ms") == 0.25
    with pytest.raises(ValueError, match="not a duration"):
        uplink.parse_duration("5 minutes")
