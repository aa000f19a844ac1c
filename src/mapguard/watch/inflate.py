"""Streaming gunzip with a cap: a gzip bomb costs one small read and an error, not memory."""

from __future__ import annotations

import zlib

from mapguard.formats.pprof import GZIP_MAGIC
from mapguard.watch.failures import ScrapeError


class Inflater:
    """Streaming gunzip of all members, refusing output past `cap` bytes."""

    def __init__(self, cap: int, url: str) -> None:
        self.cap = cap
        self.url = url
        self.parts: list[bytes] = []
        self.size = 0
        self.member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.member_started = False
        self.trailing = False  # bytes after the last member, ignored as gzip(1) does

    def feed(self, data: bytes) -> None:
        while data and not self.trailing:
            self.member_started = True
            try:
                chunk = self.member.decompress(data, self.cap - self.size + 1)
            except zlib.error as exc:
                raise ScrapeError("decode", f"{self.url}: corrupt gzip data ({exc})") from None
            self.size += len(chunk)
            if self.size > self.cap or self.member.unconsumed_tail:
                raise ScrapeError("too_large", f"{self.url}: decompresses to more than the "
                                 f"{self.cap} byte cap (max_profile_bytes)")
            self.parts.append(chunk)
            data = b""
            if self.member.eof:
                data = self.member.unused_data
                self.member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.member_started = False
                self.trailing = bool(data) and not data.startswith(GZIP_MAGIC[:len(data)])

    def finish(self) -> bytes:
        if self.member_started:
            raise ScrapeError("decode", f"{self.url}: truncated gzip data")
        return b"".join(self.parts)


def inflate(data: bytes, cap: int, url: str) -> bytes:
    """`data` inflated if it is gzip, else as it is; refused past `cap` bytes either way."""
    if not data.startswith(GZIP_MAGIC):
        if len(data) > cap:
            raise ScrapeError("too_large", f"{url}: larger than the {cap} byte cap "
                              "(max_profile_bytes)")
        return data
    inflater = Inflater(cap, url)
    inflater.feed(data)
    return inflater.finish()
