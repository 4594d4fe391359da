"""The ResIOT data model (seed 001): canonical -> communication JSON, and TX command parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from flowengine import resiot, uplink
from flowengine.testing import flow_document, running

UPLINK = {
    "type": "uplink",
    "devEui": "0732227a557d8679",
    "joinEui": "006c3b194374ac7f",
    "fPort": 128,
    "fCnt": 1953,
    "bytes": "9b690291010f1b2401ce01c0",
    "receivedAt": "2017-06-15T09:36:46.529531+02:00",
    "rx": [{"gatewayEui": "218000ac0000a05f", "rssi": -18, "snr": 9.5},
           {"gatewayEui": "218000ac0000a060", "rssi": -90, "snr": -3.0}],
    "frequency": 867300000,
    "sf": 7,
    "bw": 125,
    "extra": {"channel": 4, "adr": True, "duplicate": False, "connector": "636f6e313332"},
}


def test_uplink_becomes_comm_rx_in_the_seed_shape() -> None:
    assert resiot.to_communication(UPLINK) == {
        "CommType": "comm_rx",
        "Connector": "636f6e313332",
        "AppEui": "006c3b194374ac7f",
        "DevEui": "0732227a557d8679",
        "Port": "128",
        "GatewayEUIs": ["218000ac0000a05f", "218000ac0000a060"],
        "Payload": "9b690291010f1b2401ce01c0",
        "Extra": {"adr": "true", "channel": "4", "duplicate": "false", "frequency": "867.3", "modBW": "125",
                  "rssi": "-18", "seqno": "1953", "sf": "7", "snr": "9.5"},
        "DT": "2017-06-15T09:36:46.529531+02:00",
    }


def test_network_server_extra_wins_and_connector_falls_back_to_the_default() -> None:
    uplink = {**UPLINK, "extra": {"frequency": "867.1", "seqno": "7"}}
    communication = resiot.to_communication(uplink, connector="c0")
    assert communication["Connector"] == "c0"
    assert communication["Extra"]["frequency"] == "867.1"
    assert communication["Extra"]["seqno"] == "7"


def test_dt_converted_to_a_timezone_and_defaulted_for_naive_times() -> None:
    communication = resiot.to_communication(UPLINK, tz=UTC)
    assert communication["DT"] == "2017-06-15T07:36:46.529531+00:00"
    naive = resiot.to_communication({**UPLINK, "receivedAt": "2017-06-15T07:36:46"}, tz=ZoneInfo("Europe/Rome"))
    assert naive["DT"] == "2017-06-15T09:36:46+02:00"
    zulu = resiot.to_communication({**UPLINK, "receivedAt": "2017-06-15T07:36:46Z"})
    assert zulu["DT"] == "2017-06-15T07:36:46+00:00"


def test_join_and_gateway_alive_have_empty_port_payload_and_extra() -> None:
    join = resiot.to_communication({"type": "join", "devEui": "0732227a557d8679", "joinEui": "006c3b194374ac7f",
                                    "receivedAt": "2017-06-15T09:36:20.693593+02:00", "rx": []}, connector="636f6e313332")
    assert join == {"CommType": "comm_join", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
                    "DevEui": "0732227a557d8679", "Port": "", "GatewayEUIs": [], "Payload": "", "Extra": {},
                    "DT": "2017-06-15T09:36:20.693593+02:00"}
    alive = resiot.to_communication({"type": "gwalive", "gatewayEui": "218000ac0000a05f",
                                     "receivedAt": "2017-06-15T09:17:11.207265+02:00"}, connector="69643d3139")
    assert alive["CommType"] == "comm_gwalive"
    assert alive["GatewayEUIs"] == ["218000ac0000a05f"]
    assert (alive["DevEui"], alive["Port"], alive["Payload"], alive["Extra"]) == ("", "", "", {})


def test_downlink_becomes_comm_tx() -> None:
    now = datetime(2017, 6, 15, 7, 41, 9, tzinfo=UTC)
    downlink = {"type": "downlink", "devEui": "0732227a557d8679", "appEui": "006c3b194374ac7f", "fPort": 1,
                "bytes": "2525", "confirmed": False, "reference": None, "connector": "636f6e313332"}
    assert resiot.to_communication(downlink, now=now) == {
        "CommType": "comm_tx", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
        "DevEui": "0732227a557d8679", "Port": "1", "Payload": "2525", "Command": "", "Reference": "",
        "Confirmation": False, "Extra": {"priority": 0, "window": "BOTH"}, "DT": "2017-06-15T07:41:09+00:00"}


def test_a_communication_passes_unchanged() -> None:
    communication = {"CommType": "comm_rx", "DevEui": "x"}
    assert resiot.to_communication(communication) is communication


@pytest.mark.parametrize(("payload", "reason"), [
    ("text", "payload: expected a canonical uplink object, got str"),
    ({"type": "status"}, "payload.type: 'status' is not one of"),
    ({**UPLINK, "bytes": "zz"}, "payload.bytes: expected hex text"),
    ({**UPLINK, "receivedAt": "yesterday"}, "payload.receivedAt: not an ISO 8601 time"),
    ({**UPLINK, "rx": {}}, "payload.rx: expected a list"),
])
def test_not_canonical_is_an_error_naming_the_field(payload: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        resiot.to_communication(payload)


# -- TX commands ---------------------------------------------------------------------------------

SEED_COMMAND = {"function": "TX", "Payload": "HI!", "AppEui": "ABCDEF1234567890", "DevEui": "0987654321ABCDEF",
                "Connector": "", "Port": 50, "Reference": "abcdefgh", "Raw": True, "Confirm": True}


def test_the_seed_example_command() -> None:
    assert resiot.parse_tx(SEED_COMMAND) == {
        "type": "downlink", "devEui": "0987654321abcdef", "fPort": 50, "bytes": "484921", "confirmed": True,
        "reference": "abcdefgh", "appEui": "abcdef1234567890", "connector": ""}


def test_hex_payload_the_devEUI_spelling_and_defaults() -> None:
    command = {"function": "TX", "Payload": "484921", "AppEui": "abcdef1234567890", "DevEUI": "0987654321abcdef",
               "Port": "50"}
    assert resiot.parse_tx(command) == {
        "type": "downlink", "devEui": "0987654321abcdef", "fPort": 50, "bytes": "484921", "confirmed": False,
        "reference": None, "appEui": "abcdef1234567890", "connector": ""}
    assert resiot.parse_tx({**command, "Payload": None})["bytes"] == ""


@pytest.mark.parametrize(("change", "details"), [
    ({"function": None}, "function: required"),
    ({"function": "RX"}, "function: 'RX' is not supported; only 'TX' is"),
    ({"AppEui": None}, "AppEui: required"),
    ({"AppEui": "1234"}, "AppEui: expected 16 hex digits, got '1234'"),
    ({"DevEui": None}, "DevEui: required (or DevEUI)"),
    ({"DevEui": "0987654321ABCDEG"}, "DevEui: expected 16 hex digits, got '0987654321ABCDEG'"),
    ({"DevEUI": "1111111111111111"}, "DevEui and DevEUI are both given and differ"),
    ({"Port": None}, "Port: required"),
    ({"Port": 0}, "Port: expected an integer from 1 to 223, got 0"),
    ({"Port": 224}, "Port: expected an integer from 1 to 223, got 224"),
    ({"Port": True}, "Port: expected an integer from 1 to 223, got True"),
    ({"Port": "fifty"}, "Port: expected an integer from 1 to 223, got 'fifty'"),
    ({"Raw": False}, "Payload: hex text has an odd number of digits (3); set Raw to true to send text"),
    ({"Raw": False, "Payload": "48zz"}, "Payload: not hex at character 2 ('z'); set Raw to true to send text"),
    ({"Raw": "yes"}, "Raw: expected true or false, got 'yes'"),
    ({"Confirm": 1}, "Confirm: expected true or false, got 1"),
    ({"Payload": 42}, "Payload: expected a string, got a number"),
    ({"Payload": "x" * 243}, "Payload: 243 bytes; a LoRaWAN downlink carries at most 242"),
    ({"Connector": 5}, "Connector: expected a string, got 5"),
])
def test_each_fail_reason(change: dict, details: str) -> None:
    command = {**SEED_COMMAND}
    for key, value in change.items():
        if value is None:
            command.pop(key, None)
        else:
            command[key] = value
    with pytest.raises(resiot.CommandError) as caught:
        resiot.parse_tx(command)
    assert str(caught.value) == details


def test_not_an_object() -> None:
    with pytest.raises(resiot.CommandError, match="expected a JSON object, got a list"):
        resiot.parse_tx([1])


def test_reply_and_reference() -> None:
    assert resiot.reply(True, "", "abc") == {"Result": "Success", "Details": "", "Reference": "abc"}
    assert resiot.reply(False, "Port: required") == {"Result": "Fail", "Details": "Port: required", "Reference": ""}
    assert resiot.reference_of({"Reference": 12}) == "12"
    assert resiot.reference_of("junk") == ""


# -- round trip with the normaliser, and the resiot-format node -----------------------------------

SEED_RX = {"CommType": "comm_rx", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
           "DevEui": "0732227a557d8679", "Port": "128", "GatewayEUIs": ["218000AC0000a05f"],
           "Payload": "9b690291010f1b2401ce01c0",
           "Extra": {"adr": "true", "channel": "4", "duplicate": "false", "frequency": "867.3", "modBW": "125",
                     "rssi": "-18", "seqno": "1953", "sf": "7", "snr": "9.5"},
           "DT": "2017-06-15T09:36:46.5295312+02:00"}
SEED_JOIN = {"CommType": "comm_join", "Connector": "636f6e313332", "AppEui": "006c3b194374ac7f",
             "DevEui": "0732227a557d8679", "Port": "", "GatewayEUIs": [], "Payload": "", "Extra": {},
             "DT": "2017-06-15T09:36:20.6935937+02:00"}
SEED_GWALIVE = {"CommType": "comm_gwalive", "Connector": "69643d3139", "AppEui": "", "DevEui": "", "Port": "",
                "GatewayEUIs": ["218000AC0000a05f"], "Payload": "", "Extra": {},
                "DT": "2017-06-15T09:17:11.2072656+02:00"}


@pytest.mark.parametrize("seed", [SEED_RX, SEED_JOIN, SEED_GWALIVE], ids=["comm_rx", "comm_join", "comm_gwalive"])
def test_seed_examples_survive_normalise_then_format(seed: dict) -> None:
    canonical = uplink.normalise(seed, "resiot")
    again = resiot.to_communication(canonical)
    expected = {**seed, "GatewayEUIs": [g.lower() for g in seed["GatewayEUIs"]]}
    # DT keeps its instant and offset; Python keeps microseconds (6 digits, not .NET's 7)
    assert datetime.fromisoformat(again.pop("DT")) == datetime.fromisoformat(expected.pop("DT")[:26] + expected_offset(seed))
    assert again == expected


def expected_offset(seed: dict) -> str:
    return seed["DT"][-6:]


async def test_resiot_format_node(tmp_path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["fmt"]]},
        {"id": "fmt", "type": "resiot-format", "config": {"connector": "c0", "timezone": "Europe/Rome"}, "wires": [["out"]]},
        {"id": "out", "type": "debug"},
        {"id": "oops", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": "meta.error.message"}},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", {**UPLINK, "extra": {}})
        await runtime.inject("in", {"type": "nonsense"})
        [communication] = await debug.wait_for("out")
        assert communication["Connector"] == "c0"
        assert communication["DT"] == "2017-06-15T09:36:46.529531+02:00"
        assert communication["Extra"]["frequency"] == "867.3"
        assert await debug.wait_for("caught") == ["payload.type: 'nonsense' is not one of ['downlink', 'gwalive', 'join', 'uplink']"]
        problems = runtime.check(flow_document({"id": "fmt", "type": "resiot-format", "config": {"timezone": "Nowhere/City"}}))
        assert [str(p) for p in problems] == ["node fmt (resiot-format): /config/timezone: unknown timezone 'Nowhere/City' (expected an IANA name such as 'Europe/Paris')"]
