import os
import stat

import pytest

from flowengine.registry import Registry
from flowengine.store import KEY_FILE, Store, StoreError
from flowengine.testing import flow_document
from flowengine.types import JSONObject

from .test_runtime import Recorder


class Secretive(Recorder):
    """Test node type with a secret field."""

    type = "test-secretive"
    schema: JSONObject = {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True, "default": ""}, "user": {"type": "string", "default": ""}}}


def registry() -> Registry:
    found = Registry.from_entry_points()
    found.register(Secretive)
    return found


def test_key_file_is_created_private(tmp_path):
    store = Store(tmp_path, environ={})
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
    store.close()


def test_secrets_are_encrypted_at_rest_and_masked_in_revisions(tmp_path):
    store = Store(tmp_path, environ={})
    document = flow_document({"id": "s", "type": "test-secretive", "config": {"password": "hunter2-very-secret", "user": "alice"}})
    revision = store.save_revision(document, registry())
    _, masked = store.load_revision(revision)
    assert masked["nodes"][0]["config"] == {"password": "*****", "user": "alice"}
    _, full = store.load_revision(revision, with_secrets=True)
    assert full["nodes"][0]["config"]["password"] == "hunter2-very-secret"
    store.close()
    for path in tmp_path.iterdir():
        assert b"hunter2-very-secret" not in path.read_bytes(), path


def test_wrong_key_is_a_clear_error(tmp_path):
    store = Store(tmp_path, environ={"FLOWENGINE_SECRET": "one"})
    store.save_revision(flow_document({"id": "s", "type": "test-secretive", "config": {"password": "x"}}), registry())
    store.close()
    other = Store(tmp_path, environ={"FLOWENGINE_SECRET": "two"})
    with pytest.raises(StoreError, match="key changed"):
        other.load_revision(with_secrets=True)
    other.close()


def test_keeps_only_the_last_revisions(tmp_path):
    store = Store(tmp_path, keep=3, environ={})
    for number in range(5):
        store.save_revision(flow_document({"id": "a", "type": "inject", "config": {"topic": str(number)}}), registry())
    assert [r["id"] for r in store.revisions()] == [5, 4, 3]
    with pytest.raises(StoreError, match="no revision 1"):
        store.load_revision(1)
    store.close()


def test_snapshots(tmp_path):
    store = Store(tmp_path, environ={})
    assert store.snapshot("n1") is None
    store.save_snapshot("n1", {"counters": {"received": 3}})
    assert store.snapshot("n1") == {"counters": {"received": 3}}
    store.close()
