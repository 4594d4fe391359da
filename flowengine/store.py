"""Everything flowengine keeps on disk, in one SQLite file in the data folder.

- deployed revisions (the last ``keep`` of them), each with its secrets encrypted;
- counters and status snapshots per node;
- tables that nodes own (outboxes, dead letters, upload records), through :attr:`Store.db`.

Secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key taken from the
environment variable ``FLOWENGINE_SECRET`` or, when it is not set, from ``secret.key`` in the
data folder, created on first use with mode 0600. Revisions themselves hold ``*****`` in place
of every secret, so a revision can be shown or exported as it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.fernet import Fernet, InvalidToken

from flowengine.registry import Registry
from flowengine.schema import MASK, get_path, secret_paths, set_path
from flowengine.types import Document, JSONObject

KEY_FILE = "secret.key"
SECRET_ENV = "FLOWENGINE_SECRET"


class StoreError(Exception):
    """The store cannot do what was asked (unknown revision, undecryptable secrets)."""


def load_key(data_dir: Path, environ: Mapping[str, str] = os.environ) -> bytes:
    """The Fernet key: derived from ``FLOWENGINE_SECRET``, or read from (or created in) the key file."""
    secret = environ.get(SECRET_ENV)
    if secret:
        return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
    path = data_dir / KEY_FILE
    if not path.exists():
        key = Fernet.generate_key()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
    return path.read_bytes().strip()


class Store:
    """The SQLite store of one data folder."""

    def __init__(self, data_dir: str | Path, keep: int = 20, environ: Mapping[str, str] = os.environ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.db = sqlite_utils.Database(self.data_dir / "flowengine.db")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._fernet = Fernet(load_key(self.data_dir, environ))
        self.db.table("revisions").create(
            {"id": int, "created": str, "document": str, "secrets": str, "note": str}, pk="id", if_not_exists=True
        )
        self.db.table("snapshots").create({"node_id": str, "updated": str, "data": str}, pk="node_id", if_not_exists=True)

    def close(self) -> None:
        self.db.close()

    # -- secrets ----------------------------------------------------------------------------

    def encrypt(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def decrypt(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise StoreError(
                f"stored secrets cannot be decrypted: the key changed (set {SECRET_ENV} or restore {KEY_FILE})"
            ) from None

    # -- revisions --------------------------------------------------------------------------

    def save_revision(self, document: Document, registry: Registry, note: str = "") -> int:
        """Store a deployed document (secrets encrypted apart); returns the new revision number."""
        masked, secrets = split_secrets(document, registry)
        row = {
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "document": json.dumps(masked),
            "secrets": self.encrypt(secrets),
            "note": note,
        }
        revision = self.db.table("revisions").insert(row).last_pk
        assert revision is not None
        stale = [r["id"] for r in self.db.query(
            "select id from revisions order by id desc limit -1 offset ?", [self.keep])]
        for old in stale:
            self.db.table("revisions").delete(old)
        return int(revision)

    def latest_revision(self) -> int | None:
        row = next(self.db.query("select max(id) as id from revisions"), None)
        return None if row is None or row["id"] is None else int(row["id"])

    def revisions(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("select id, created, note from revisions order by id desc")]

    def load_revision(self, revision: int | None = None, with_secrets: bool = False) -> tuple[int, Document] | None:
        """A stored revision (the latest by default), masked unless ``with_secrets``."""
        revision = self.latest_revision() if revision is None else revision
        if revision is None:
            return None
        try:
            row = self.db.table("revisions").get(revision)
        except sqlite_utils.db.NotFoundError:
            raise StoreError(f"no revision {revision}") from None
        document = json.loads(row["document"])
        if with_secrets:
            merge_secrets(document, self.decrypt(row["secrets"]))
        return revision, document

    def stored_secrets(self, revision: int | None = None) -> dict[str, dict[str, Any]]:
        loaded = self.latest_revision() if revision is None else revision
        if loaded is None:
            return {}
        secrets: dict[str, dict[str, Any]] = self.decrypt(self.db.table("revisions").get(loaded)["secrets"])
        return secrets

    # -- snapshots --------------------------------------------------------------------------

    def save_snapshot(self, node_id: str, data: JSONObject) -> None:
        self.db.table("snapshots").upsert(
            {"node_id": node_id, "updated": datetime.now(UTC).isoformat(), "data": json.dumps(data)}, pk="node_id"
        )

    def snapshot(self, node_id: str) -> JSONObject | None:
        try:
            data: JSONObject = json.loads(self.db.table("snapshots").get(node_id)["data"])
        except sqlite_utils.db.NotFoundError:
            return None
        return data


def split_secrets(document: Document, registry: Registry) -> tuple[Document, dict[str, dict[str, Any]]]:
    """The document with every secret replaced by ``*****``, and the secrets by node id and path."""
    masked = json.loads(json.dumps(document))
    secrets: dict[str, dict[str, Any]] = {}
    for node in masked.get("nodes", []):
        node_type = registry.get(node.get("type"))
        config = node.get("config")
        if node_type is None or not isinstance(config, dict):
            continue
        for path in secret_paths(node_type.schema):
            value = get_path(config, path)
            if value not in (None, "", MASK):
                secrets.setdefault(node["id"], {})["/".join(path)] = value
                set_path(config, path, MASK)
    return masked, secrets


def merge_secrets(document: Document, secrets: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Put stored secrets back where the document says ``*****``; returns (node id, path) still masked."""
    unresolved: list[tuple[str, str]] = []
    for node in document.get("nodes", []):
        config = node.get("config")
        if not isinstance(config, dict):
            continue
        stored = secrets.get(node.get("id"), {})
        for dotted, value in stored.items():
            path = tuple(dotted.split("/"))
            if get_path(config, path) == MASK:
                set_path(config, path, value)
        unresolved.extend((node["id"], p) for p in _masked_paths(config))
    return unresolved


def _masked_paths(config: JSONObject, prefix: str = "") -> list[str]:
    found = []
    for key, value in config.items():
        if value == MASK:
            found.append(prefix + key)
        elif isinstance(value, dict):
            found.extend(_masked_paths(value, f"{prefix}{key}/"))
    return found
