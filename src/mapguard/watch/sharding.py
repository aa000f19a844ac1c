"""Splitting a fleet across agents the way Prometheus' `hashmod` relabelling splits targets.

Agent I of N (`--shard I/N`, 1-based) keeps the targets whose address hashes to I-1 modulo N:
Prometheus' hashmod takes the MD5 of the value and reads the last 8 bytes as a big-endian
integer, so a Prometheus sharded with `hashmod` on `__address__` and modulus N puts each target
on the same shard number as mapguard does.
"""

from __future__ import annotations

import hashlib

from mapguard.watch.config import Shard


def hashmod(value: str, modulus: int) -> int:
    digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def in_shard(address: str, shard: Shard) -> bool:
    return shard.count == 1 or hashmod(address, shard.count) == shard.index - 1
