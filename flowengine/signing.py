"""HMAC-SHA256 webhook signatures: ``http-out`` signs, ``http-in`` checks (seed 003's secret key).

Every signed request carries two headers, so the receiver can check integrity and freshness::

    X-Flowengine-Timestamp: 1767225600                       (Unix seconds, when sent)
    X-Flowengine-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The receiver recomputes the HMAC over the exact bytes of the body and refuses a timestamp too far
from its own clock, which stops replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flowengine.types import JSONObject

SIGNATURE_HEADER = "X-Flowengine-Signature"
TIMESTAMP_HEADER = "X-Flowengine-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, max_age: float, now: float | None = None) -> str | None:
    """Check a signature made by :func:`sign`; returns the reason it is refused, or None when valid."""
    try:
        sent = float(timestamp)
    except ValueError:
        return f"timestamp {timestamp!r} is not a number of seconds"
    now = time.time() if now is None else now
    if abs(now - sent) > max_age:
        return f"timestamp is {abs(now - sent):.0f} s away from now (more than {max_age:g} s)"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "signature does not match the body"
    return None


def schema_fields(secret_description: str) -> dict[str, JSONObject]:
    """The config fields of a node that signs or checks signatures, for its JSON Schema."""
    return {
        "secret": {"title": "Secret key", "type": "string", "default": "", "writeOnly": True, "format": "password",
                   "description": secret_description},
        "signatureHeader": {"title": "Signature header", "type": "string", "default": SIGNATURE_HEADER,
                            "description": "Header with sha256=<hex HMAC(secret, timestamp + '.' + body)>."},
        "timestampHeader": {"title": "Timestamp header", "type": "string", "default": TIMESTAMP_HEADER,
                            "description": "Header with the signing time (Unix seconds)."},
    }
