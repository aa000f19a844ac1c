"""Why a scrape failed: one reason from a closed set (the `reason` label stays bounded) and a
one-line message that names the URL or file, never a credential."""

from __future__ import annotations

# scrape_errors_total{reason}: a closed set, so the label stays bounded.
REASONS = ("timeout", "connect", "http", "too_large", "decode", "credentials", "profile",
           "symbols", "metrics")


class ScrapeError(Exception):
    """A scrape that failed; `reason` is one of REASONS, the message says what happened."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.status = status  # the HTTP status, for reason "http"
        super().__init__(message)
