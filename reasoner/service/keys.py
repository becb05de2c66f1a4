"""API keys: read from a file, kept only as SHA-256 digests, checked in constant time.

The file holds one key per line, either the raw token or `sha256:HEX` of it
(so the file itself need not hold secrets); `#` starts a comment. A key's
owner id (the first 16 hex digits of its digest) is what jobs are filed under.

Not here: issuing keys or rate limiting beyond the per-key job cap.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from reasoner.errors import ConfigError, RequestError

ANONYMOUS = "anonymous"
"""Owner of every job when the service runs without keys (loopback only)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyRing:
    """The accepted keys' digests; `owner(header)` authenticates one request."""

    def __init__(self, digests: list[str] | None = None) -> None:
        self._digests = list(digests or [])

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        if not path.is_file():
            raise ConfigError(f"--keys {path}: no such file")
        digests = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("sha256:"):
                hexdigest = line.removeprefix("sha256:").lower()
                if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
                    raise ConfigError(f"{path}:{number}: 'sha256:' must be followed by 64 hex digits")
                digests.append(hexdigest)
            else:
                digests.append(digest(line))
        if not digests:
            raise ConfigError(f"--keys {path} holds no keys")
        return cls(digests)

    def owner(self, authorization: str | None) -> str:
        """The owner id for an `Authorization` header; raises a 401 `RequestError` if it is not a key."""
        if not self.enabled:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError("missing bearer token; send 'Authorization: Bearer KEY'",
                               param="authorization", status=401, code="invalid_api_key")
        presented = digest(token.strip())
        # Compare against every key so the time taken does not say which one nearly matched.
        matches = [hmac.compare_digest(presented, known) for known in self._digests]
        if not any(matches):
            raise RequestError("unknown API key", param="authorization", status=401, code="invalid_api_key")
        return presented[:16]
