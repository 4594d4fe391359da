from flowengine.registry import Registry
from flowengine.testing import flow_document
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()


def problems(document, environ=None):
    return [str(p) for p in validate(document, REGISTRY, environ or {}).problems]


def test_valid_document_has_no_problems_and_configs_get_defaults():
    document = flow_document({"id": "a", "type": "inject", "wires": [["b"]]}, {"id": "b", "type": "debug"})
    result = validate(document, REGISTRY, {})
    assert result.ok
    assert result.configs["b"] == {"property": "payload", "log": False}


def test_every_problem_is_reported_at_once():
    document = {
        "version": 2,
        "flows": [{"id": "f1"}, {"id": "f2"}],
        "nodes": [
            {"id": "a", "type": "inject", "flow": "f1", "wires": [["b", "ghost", "x"], ["b"]], "config": {"repeat": -1}},
            {"id": "b", "type": "debug", "flow": "f1", "config": {"bogus": 1}},
            {"id": "b", "type": "debug", "flow": "f1"},
            {"id": "c", "type": "no-such-type", "flow": "f1"},
            {"id": "x", "type": "debug", "flow": "f2"},
            {"id": "d", "type": "switch", "flow": "nowhere", "config": {"rules": [{"op": "=~"}]}},
        ],
    }
    found = problems(document)
    expected = [
        "document: /version: unknown version 2; expected 1",
        "node b (debug): /id: duplicate node id (also at /nodes/2)",
        "node a (inject): /config/repeat: -1 is less than the minimum of 0",
        "node a (inject): /wires/1: output port 1 does not exist; the node has 1 output(s)",
        "node a (inject): /wires/0/1: wire to missing node 'ghost'",
        "node a (inject): /wires/0/2: wire to node x in another flow (f2)",
        "node b (debug): /config: unknown field(s) ('bogus' was unexpected)",
        "node c (no-such-type): /type: unknown node type 'no-such-type'",
        "node d (switch): /flow: no flow with id 'nowhere'",
    ]
    for line in expected:
        assert line in found, (line, found)
    assert any(line.startswith("node d (switch): /config/rules/0/op: '=~' is not one of") for line in found)


def test_cycle_names_the_nodes_on_it():
    document = flow_document(
        {"id": "a", "type": "change", "config": {"rules": []}, "wires": [["b"]]},
        {"id": "b", "type": "change", "config": {"rules": []}, "wires": [["c"]]},
        {"id": "c", "type": "change", "config": {"rules": []}, "wires": [["a"]]},
        {"id": "d", "type": "change", "config": {"rules": []}, "wires": [["d"]]},
    )
    found = problems(document)
    assert "node a (change): /wires: cycle: a -> b -> c -> a" in found
    assert "node d (change): /wires: cycle: d -> d" in found


def test_wire_into_a_node_without_input():
    document = flow_document({"id": "a", "type": "inject", "wires": [["b"]]}, {"id": "b", "type": "inject"})
    assert problems(document) == ["node a (inject): /wires/0/0: wire to node b (inject), which has no input"]


def test_missing_environment_variable_is_a_problem():
    document = flow_document({"id": "a", "type": "inject", "config": {"topic": "t/${SITE}"}})
    assert problems(document) == ["node a (inject): /config/topic: environment variable SITE is not set"]
    assert problems(document, {"SITE": "paris"}) == []
    assert validate(document, REGISTRY, {"SITE": "paris"}).configs["a"]["topic"] == "t/paris"


def test_semantic_check_of_node_type():
    document = flow_document({"id": "a", "type": "inject", "config": {"cron": "every tuesday"}})
    assert problems(document) == ["node a (inject): /config/cron: not a valid cron expression: 'every tuesday'"]


def test_malformed_shapes():
    found = problems({"version": 1, "flows": "nope", "nodes": [3, {"id": ""}, {"id": "a", "type": "debug", "flow": "f", "wires": "x", "config": []}]})
    assert "document: /flows: expected a list, got str" in found
    assert "document: /nodes/0: expected an object, got int" in found
    assert "document: /nodes/1/id: a node needs a non-empty string id" in found
    assert "node a (debug): /config: expected an object, got list" in found
    assert "node a (debug): /wires: expected a list of lists of node ids" in found
