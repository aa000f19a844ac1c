"""The lab's claims file: well formed, every rule's claims present and quoted from its text."""

from __future__ import annotations

import re

import pytest

from mapguard.lab.claims import CHECKS, Claim, load_claims
from mapguard.lab.plan import GROUPS
from mapguard.lint.registry import ALL_RULES


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_rule_has_claims_and_every_claim_a_check() -> None:
    claims = load_claims()
    sources = {claim.source for claim in claims}
    # The lab has no claims yet for the rules that fire only on a profile's evidence (MG011,
    # MG012): what they report is checked against measured profiles in
    # tests/lint/test_profile_lint.py.
    advising = {rule.code for rule in ALL_RULES if not rule.evidence_only}
    assert advising <= sources
    assert sources - advising == {"common"}
    assert len({claim.id for claim in claims}) == len(claims)
    for claim in claims:
        assert claim.check in CHECKS
        assert set(claim.needs) <= set(GROUPS)


@pytest.mark.parametrize("claim", [c for c in load_claims() if c.source != "common"],
                         ids=lambda claim: claim.id)
def test_rule_claims_quote_the_rule_text(claim: Claim) -> None:
    """A changed rule text breaks this test: the claims table must be reviewed with it."""
    assert claim.quote
    rule = next(rule for rule in ALL_RULES if rule.code == claim.source)
    assert _words(claim.quote) in _words(rule.doc)


def test_common_claims_include_the_usual_advice() -> None:
    texts = " ".join(claim.claim for claim in load_claims() if claim.source == "common")
    for advice in ("O(1)", "sync.Map is faster", "*p = make", "24-byte header",
                   "size hint always"):
        assert advice in texts
