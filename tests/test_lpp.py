"""Cayenne LPP: the examples of the specification, every type, encoding and errors."""

from __future__ import annotations

import pytest

from flowengine import lpp


def test_spec_example_two_temperatures() -> None:
    assert lpp.decode(bytes.fromhex("03670110056700FF")) == {"temperature_3": 27.2, "temperature_5": 25.5}


def test_spec_example_gps() -> None:
    assert lpp.decode(bytes.fromhex("018806765FF2960A0003E8")) == {
        "gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}}


def test_spec_example_accelerometer() -> None:
    assert lpp.decode(bytes.fromhex("067104D2FB2E0000")) == {"accelerometer_6": {"x": 1.234, "y": -1.234, "z": 0.0}}


@pytest.mark.parametrize(("hex_payload", "expected"), [
    ("0100ff", {"digital_in_1": 255}),
    ("0201" "01", {"digital_out_2": 1}),
    ("0302fed4", {"analog_in_3": -3.0}),
    ("040304d2", {"analog_out_4": 12.34}),
    ("05650190", {"luminosity_5": 400}),
    ("066601", {"presence_6": 1}),
    ("07689d", {"relative_humidity_7": 78.5}),
    ("087327f0", {"barometric_pressure_8": 1022.4}),
    ("09860064ff9c0000", {"gyrometer_9": {"x": 1.0, "y": -1.0, "z": 0.0}}),
    ("0a6400000400", {"generic_sensor_10": 1024}),
    ("0b74014a", {"voltage_11": 3.3}),
    ("0c7503e8", {"current_12": 1.0}),
    ("0d76000003e8", {"frequency_13": 1000}),
    ("0e7832", {"percentage_14": 50}),
    ("0f79ffec", {"altitude_15": -20}),
    ("107d0384", {"concentration_16": 900}),
    ("11800064", {"power_17": 100}),
    ("1282000004d2", {"distance_18": 1.234}),
    ("1383000f4240", {"energy_19": 1000.0}),
    ("14840168", {"direction_20": 360}),
    ("15856553f100", {"unixtime_21": 1700000000}),
    ("1687ff8000", {"colour_22": {"r": 255, "g": 128, "b": 0}}),
    ("178e01", {"switch_23": 1}),
])
def test_every_type(hex_payload: str, expected: dict) -> None:
    assert lpp.decode(bytes.fromhex(hex_payload)) == expected
    assert lpp.encode(expected) == bytes.fromhex(hex_payload)


def test_encode_round_trips_the_spec_examples() -> None:
    for text in ("03670110056700FF", "018806765FF2960A0003E8", "067104D2FB2E0000"):
        assert lpp.encode(lpp.decode(bytes.fromhex(text))) == bytes.fromhex(text)


def test_empty_payload() -> None:
    assert lpp.decode(b"") == {}
    assert lpp.encode({}) == b""


def test_truncated_value_names_the_offset() -> None:
    with pytest.raises(lpp.LppError, match=r"^byte 6: truncated: temperature \(0x67\) on channel 5 needs 2 bytes, 1 left"):
        lpp.decode(bytes.fromhex("03670110056700"))
    with pytest.raises(lpp.LppError, match=r"^byte 4: truncated: channel 5 has no type byte"):
        lpp.decode(bytes.fromhex("0367011005"))


def test_unknown_type_names_the_offset() -> None:
    with pytest.raises(lpp.LppError, match=r"^byte 5: unknown LPP type 0x99 \(153\) on channel 5"):
        lpp.decode(bytes.fromhex("036701100599"))


@pytest.mark.parametrize(("values", "message"), [
    ({"heat_1": 1}, "heat_1: expected <type>_<channel>"),
    ({"temperature": 1}, "temperature: expected <type>_<channel>"),
    ({"temperature_300": 1}, "channel 300 is not 0..255"),
    ({"temperature_1": 5000}, r"temperature_1: 5000 is out of range -3276.8..3276.7"),
    ({"gps_1": {"latitude": 1}}, "gps_1: expected an object with latitude, longitude, altitude"),
    ({"humidity_1": "wet"}, "humidity_1: expected"),
    ({"relative_humidity_1": "wet"}, "relative_humidity_1: expected a number, got str"),
])
def test_encode_errors_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(lpp.LppError, match=message):
        lpp.encode(values)
