"""API keys and roles: read from a file, kept only as SHA-256 digests, checked in constant time.

The file holds one key per line, either the raw token or `sha256:HEX` of it
(so the file itself need not hold secrets), optionally after a role word:
`admin KEY` marks an admin key (it may read `/metrics` and every key's jobs);
`user KEY` or a bare key is an ordinary one. `#` starts a comment. A key's
owner id (the first 16 hex digits of its digest) is what jobs are filed
under. Without a keys file (loopback only) every caller is the one local
user, `anonymous`, who is also the admin.

Not here: rate limits (`reasoner.service.limiter`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from reasoner.errors import ConfigError, RequestError

ANONYMOUS = "anonymous"
"""Owner of every job when the service runs without keys (loopback only)."""
ROLES = ("user", "admin")


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the owner id its jobs are filed under, and whether it is an admin."""

    owner: str
    admin: bool = False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyRing:
    """The accepted keys' digests and roles; `caller(header)` authenticates one request."""

    def __init__(self, digests: list[str] | None = None, admins: set[str] | None = None) -> None:
        self._digests = list(digests or [])
        self._admins = set(admins or ())

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        if not path.is_file():
            raise ConfigError(f"--keys {path}: no such file")
        digests, admins = [], set()
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            role, _, key = line.partition(" ") if line.split(" ", 1)[0] in ROLES else ("user", "", line)
            hexdigest = _digest_of(key.strip(), f"{path}:{number}")
            digests.append(hexdigest)
            if role == "admin":
                admins.add(hexdigest)
        if not digests:
            raise ConfigError(f"--keys {path} holds no keys")
        return cls(digests, admins)

    def caller(self, authorization: str | None) -> Caller:
        """The caller of an `Authorization` header; raises a 401 `RequestError` if it is not a key."""
        if not self.enabled:
            return Caller(ANONYMOUS, admin=True)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError("missing bearer token; send 'Authorization: Bearer KEY'",
                               param="authorization", status=401, code="invalid_api_key")
        presented = digest(token.strip())
        # Compare against every key so the time taken does not say which one nearly matched.
        matches = [hmac.compare_digest(presented, known) for known in self._digests]
        if not any(matches):
            raise RequestError("unknown API key", param="authorization", status=401, code="invalid_api_key")
        return Caller(presented[:16], admin=presented in self._admins)

    def owner(self, authorization: str | None) -> str:
        """The owner id of an `Authorization` header (see `caller`)."""
        return self.caller(authorization).owner


def _digest_of(key: str, where: str) -> str:
    if " " in key:
        raise ConfigError(f"{where}: a line is 'KEY', 'sha256:HEX' or a role ({', '.join(ROLES)}) and one of those")
    if not key.startswith("sha256:"):
        return digest(key)
    hexdigest = key.removeprefix("sha256:").lower()
    if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
        raise ConfigError(f"{where}: 'sha256:' must be followed by 64 hex digits")
    return hexdigest
