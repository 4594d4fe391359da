"""Shared fixtures. Peers (brokers, receivers, FTP servers) are started per test module by helpers
in ``tests/support/``; nothing here depends on services left running on the machine."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("FLOWENGINE_SECRET", "tests-only-secret")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _quiet_loggers() -> None:
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

