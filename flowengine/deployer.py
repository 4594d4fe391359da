"""Deploying documents with revisions: conflict detection, secrets kept on ``*****``, rollback.

The runtime runs documents; the store keeps revisions. This module joins them for ``serve``:
a deploy names the revision it was based on, and a stale one is a conflict unless forced; a
secret sent back as ``*****`` keeps the value deployed before; every deploy is a new revision.
"""

from __future__ import annotations

import json
from typing import Any

from flowengine.runtime import Runtime
from flowengine.schema import MASK
from flowengine.store import Store, merge_secrets
from flowengine.types import Document
from flowengine.validation import InvalidDocument, Problem


class Conflict(Exception):
    """The document was based on an older revision than the one deployed."""

    def __init__(self, current: int | None) -> None:
        self.current = current
        super().__init__(f"the deployed revision is {current}; reload or force the deploy")


class Deployer:
    """Deploys documents to a runtime and records them in a store."""

    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store

    def current(self) -> tuple[int | None, Document]:
        """The deployed revision and its document, secrets masked."""
        loaded = self.store.load_revision()
        if loaded is None:
            return None, self.runtime.document
        return loaded

    async def deploy(self, document: Document, base_revision: int | None, *, force: bool = False, note: str = "") -> tuple[int, dict[str, Any]]:
        """Deploy ``document`` (based on ``base_revision``); returns the new revision and the changes."""
        current = self.store.latest_revision()
        if not force and base_revision != current:
            raise Conflict(current)
        document = _copy(document)
        unresolved = merge_secrets(document, self.store.stored_secrets())
        problems = [Problem(f"node {node_id}", f"/config/{path}", f"secret is {MASK} but no value is stored for it", node_id)
                    for node_id, path in unresolved]
        problems += self.runtime.check(document)
        if problems:
            raise InvalidDocument(problems)
        changes = await self.runtime.deploy(document)
        revision = self.store.save_revision(document, self.runtime.registry, note)
        return revision, changes

    async def restore(self, revision: int | None = None) -> int | None:
        """Run a stored revision (the latest by default) at start-up or as a rollback."""
        loaded = self.store.load_revision(revision, with_secrets=True)
        if loaded is None:
            return None
        number, document = loaded
        await self.runtime.deploy(document)
        if revision is not None:
            return self.store.save_revision(document, self.runtime.registry, f"rollback to {number}")
        return number


def _copy(document: Document) -> Document:
    return json.loads(json.dumps(document))  # type: ignore[no-any-return]
