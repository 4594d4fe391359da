import json

import pytest

from flowengine import document as doc


def test_parse_error_names_line_and_column():
    with pytest.raises(doc.DocumentError, match=r"line 3 column 1"):
        doc.parse('{"version": 1,\n "flows": []\n"nodes": []}')


def test_not_an_object():
    with pytest.raises(doc.DocumentError, match="expected a JSON object, got list"):
        doc.parse("[]")


def test_save_is_stable_and_small_diff(tmp_path):
    document = {
        "version": 1,
        "flows": [{"id": "f1", "label": "One"}],
        "nodes": [
            {"id": "b", "type": "debug", "flow": "f1", "config": {"z": 1, "a": 2}},
            {"id": "a", "type": "inject", "flow": "f1", "wires": [["c", "b"]], "config": {}},
            {"id": "c", "type": "debug", "flow": "f1"},
        ],
    }
    path = tmp_path / "flow.json"
    doc.save(document, path)
    text = path.read_text()
    assert text.endswith("}\n")
    saved = json.loads(text)
    assert [n["id"] for n in saved["nodes"]] == ["a", "b", "c"]
    assert list(saved["nodes"][1]["config"]) == ["a", "z"]
    assert saved["nodes"][0]["wires"] == [["b", "c"]]
    assert list(saved["nodes"][0]) == list(doc.NODE_KEYS)
    # saving what was loaded changes nothing, and moving one node changes only its lines
    doc.save(doc.load(path), path)
    assert path.read_text() == text
    moved = doc.load(path)
    moved["nodes"][2]["x"] = 500
    changed = [a != b for a, b in zip(text.splitlines(), doc.dumps(moved).splitlines(), strict=True)]
    assert sum(changed) == 1


def test_env_substitution_reports_missing_with_pointer():
    value, missing = doc.substitute_env({"url": "https://${HOST}/x", "nested": {"key": "${KEY}"}, "n": 3}, {"HOST": "example.org"}, "/config")
    assert value["url"] == "https://example.org/x"
    assert missing == [("/config/nested/key", "KEY")]


def test_unreadable_file(tmp_path):
    with pytest.raises(doc.DocumentError, match="cannot read"):
        doc.load(tmp_path / "missing.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(doc.DocumentError, match="not UTF-8 \\(byte offset 13\\)"):
        doc.load(bad)
