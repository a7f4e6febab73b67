"""Check a request's AuthVersion 3 signature by Scalr's own rules (protocol 3.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote_plus


def php_urldecode(text: str) -> str:
    """Decode like PHP urldecode(): '+' becomes a space, %XX a byte."""
    return unquote_plus(text)


def sign_v3(secret_key: str, string_to_sign: str) -> str:
    """Return base64(HMAC-SHA256(secret, trim(string_to_sign)))."""
    digest = hmac.new(
        secret_key.encode("utf-8"), string_to_sign.strip().encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v3(
    *,
    action: str,
    key_id: str,
    timestamp: str,
    signature: str,
    secret_key: str,
    legacy_timestamp: bool,
) -> bool:
    """Say whether a received signature verifies the way Scalr checks it.

    The values arrive decoded once (PHP's $_GET/$_POST). Scalr decodes the
    TimeStamp a second time; 4.4+ also accepts the single-decoded value. The
    received signature is decoded again and spaces turned back into '+', so a raw
    '+', '%2B' and double encoding all verify.
    """
    received = php_urldecode(signature).replace(" ", "+")
    candidates = [php_urldecode(timestamp)]
    if not legacy_timestamp:
        candidates.append(timestamp)
    for value in candidates:
        expected = sign_v3(secret_key, f"{action}:{key_id}:{value}")
        if hmac.compare_digest(received.encode(), expected.encode()):
            return True
    return False
