"""Digests for cache keys and change checks, with `hashlib` imported when first used.

Importing `hashlib` loads OpenSSL (2-3 ms), which a lint that reads and writes no cache never
needs, and lint's start, before its workers run, is on one core (`docs/lint.md`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import hashlib


def blake2b(data: bytes = b"", *, digest_size: int) -> hashlib.blake2b:
    import hashlib

    return hashlib.blake2b(data, digest_size=digest_size)


def sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
