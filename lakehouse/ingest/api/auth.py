"""API keys: one per client, stored as sha256 hex (settings.api_keys), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


class ApiKeys:
    """Maps a presented key to its client name, without revealing which part of a key was wrong."""

    def __init__(self, digests: dict[str, str]) -> None:
        self._digests = {client: bytes.fromhex(digest) for client, digest in digests.items()}

    def client_for(self, key: str | None) -> str | None:
        if not key:
            return None
        presented = hashlib.sha256(key.encode()).digest()
        found = None
        # Compare against every entry (no early exit) so timing does not say how many clients exist
        # or where a match sits.
        for client, digest in self._digests.items():
            if hmac.compare_digest(presented, digest):
                found = client
        return found

    def __len__(self) -> int:
        return len(self._digests)


def source_for(client: str) -> str:
    """The record's `source` for a client: always from the key, never from the body."""
    return f"api:{client}"
