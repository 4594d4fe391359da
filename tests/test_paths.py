"""Dotted paths into messages (flowengine.paths): the addressing change, switch and debug share."""

from __future__ import annotations

import pytest

from flowengine import paths
from flowengine.message import Message


def message() -> Message:
    return Message(
        payload={"decoded": {"temperature": 21.5, "flags": [True, False]}, "rx": [{"rssi": -80}, {"rssi": -95}], "zero": 0, "none": None},
        topic="up/dev1",
        meta={"mqtt": {"qos": 1}},
    )


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("payload", ["payload"]),
        ("payload.a.b", ["payload", "a", "b"]),
        ("a.b", ["payload", "a", "b"]),
        ("topic", ["topic"]),
        ("meta.mqtt.qos", ["meta", "mqtt", "qos"]),
        ("id", ["id"]),
        ("rx.0.rssi", ["payload", "rx", "0", "rssi"]),
    ],
)
def test_split_defaults_to_payload(path: str, parts: list[str]) -> None:
    assert list(paths.split(path)) == parts


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("payload.decoded.temperature", 21.5),
        ("decoded.temperature", 21.5),
        ("payload.rx.0.rssi", -80),
        ("payload.rx.1.rssi", -95),
        ("payload.rx.-1.rssi", -95),
        ("payload.decoded.flags.0", True),
        ("payload.zero", 0),
        ("payload.none", None),
        ("topic", "up/dev1"),
        ("meta.mqtt.qos", 1),
        ("meta.mqtt", {"qos": 1}),
    ],
)
def test_get(path: str, value: object) -> None:
    assert paths.get(message(), path) == value


@pytest.mark.parametrize(
    "path",
    ["payload.missing", "payload.decoded.temperature.deeper", "payload.rx.2.rssi", "payload.rx.-3",
     "payload.rx.first", "payload.none.x", "meta.nothing", "topic.x", "payload.zero.x"],
)
def test_get_missing_gives_missing_or_the_default(path: str) -> None:
    msg = message()
    assert paths.get(msg, path) is paths.MISSING
    assert paths.get(msg, path, None) is None
    assert paths.get(msg, path, "fallback") == "fallback"


def test_get_the_whole_message_fields() -> None:
    msg = message()
    assert paths.get(msg, "payload") is msg.payload
    assert paths.get(msg, "id") == msg.id
    assert paths.get(Message(payload=None), "payload") is None


def test_set_existing_and_new_fields() -> None:
    msg = message()
    paths.set(msg, "payload.decoded.temperature", 22)
    paths.set(msg, "decoded.humidity", 40)
    paths.set(msg, "payload.rx.1.rssi", -90)
    paths.set(msg, "payload.rx.-1.snr", 7.5)
    paths.set(msg, "meta.source", "test")
    paths.set(msg, "topic", "elsewhere")
    assert msg.payload["decoded"] == {"temperature": 22, "flags": [True, False], "humidity": 40}
    assert msg.payload["rx"][1] == {"rssi": -90, "snr": 7.5}
    assert msg.meta == {"mqtt": {"qos": 1}, "source": "test"}
    assert msg.topic == "elsewhere"


def test_set_creates_objects_on_the_way() -> None:
    msg = message()
    paths.set(msg, "payload.a.b.c", 1)
    paths.set(msg, "meta.x.y", [1])
    assert msg.payload["a"] == {"b": {"c": 1}}
    assert msg.meta["x"] == {"y": [1]}


def test_set_on_an_empty_payload_makes_it_an_object() -> None:
    msg = Message(payload=None)
    paths.set(msg, "payload.a.b", 1)
    assert msg.payload == {"a": {"b": 1}}


def test_set_replaces_the_root() -> None:
    msg = message()
    paths.set(msg, "payload", [1, 2])
    assert msg.payload == [1, 2]


@pytest.mark.parametrize(
    ("payload", "path", "names"),
    [
        ("text", "payload.a", "payload is str"),
        (5, "payload.a.b", "int"),  # reported: the text says "below payload.a: it is int"
        ({"rx": [1, 2]}, "payload.rx.5", "payload.rx is list"),
        ({"rx": [1, 2]}, "payload.rx.name", "payload.rx is list"),
        ({"rx": [1, 2]}, "payload.rx.7.rssi", "payload.rx"),
        ({"rx": [1, 2]}, "payload.rx.0.rssi", "payload.rx.0"),
    ],
)
def test_set_through_a_non_object_fails_naming_the_path(payload: object, path: str, names: str) -> None:
    msg = Message(payload=payload)
    with pytest.raises(paths.PathError) as caught:
        paths.set(msg, path, 1)
    assert names in str(caught.value)
    assert msg.payload == payload


def test_set_through_a_scalar_field_does_not_clobber_it() -> None:
    msg = Message(payload={"a": 5})
    with pytest.raises(paths.PathError):
        paths.set(msg, "payload.a.b", 1)
    assert msg.payload == {"a": 5}


def test_delete() -> None:
    msg = message()
    assert paths.delete(msg, "payload.decoded.temperature") == 21.5
    assert "temperature" not in msg.payload["decoded"]
    assert paths.delete(msg, "rx.0") == {"rssi": -80}
    assert msg.payload["rx"] == [{"rssi": -95}]
    assert paths.delete(msg, "meta.mqtt.qos") == 1
    assert msg.meta == {"mqtt": {}}


@pytest.mark.parametrize("path", ["payload.nothing", "payload.decoded.nothing.deeper", "payload.rx.9", "payload.zero.x"])
def test_delete_missing_returns_missing_and_changes_nothing(path: str) -> None:
    msg = message()
    before = msg.copy()
    assert paths.delete(msg, path) is paths.MISSING
    assert msg == before


def test_delete_a_root_empties_it() -> None:
    msg = message()
    paths.delete(msg, "payload")
    paths.delete(msg, "topic")
    paths.delete(msg, "meta")
    assert (msg.payload, msg.topic, msg.meta) == (None, "", {})
