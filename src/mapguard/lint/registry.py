"""The rule catalogue: every rule module's `RULE`, in code order."""

from __future__ import annotations

from mapguard.errors import UsageError
from mapguard.lint.rule import Rule
from mapguard.lint.rules import (
    mg001_rebuild_instead_of_clear,
    mg002_missing_size_hint,
    mg003_delete_all_loop,
    mg004_unsynchronized_map_write,
    mg005_lazy_init_race,
    mg006_pooled_map_not_cleared,
    mg007_unsafe_pointer_atomic,
    mg008_published_map_mutated,
    mg009_linkname_runtime_map,
    mg010_allocating_map_key_in_loop,
    mg011_hot_map_creation,
    mg012_hot_map_growth,
    mg013_shared_map_alias,
    mg014_unproven_shared_map_race,
    mg015_context_map_written,
    mg016_cached_object_map_written,
    mg017_map_written_after_handoff,
)

ALL_RULES: tuple[Rule, ...] = tuple(sorted(
    (
        mg001_rebuild_instead_of_clear.RULE,
        mg002_missing_size_hint.RULE,
        mg003_delete_all_loop.RULE,
        mg004_unsynchronized_map_write.RULE,
        mg005_lazy_init_race.RULE,
        mg006_pooled_map_not_cleared.RULE,
        mg007_unsafe_pointer_atomic.RULE,
        mg008_published_map_mutated.RULE,
        mg009_linkname_runtime_map.RULE,
        mg010_allocating_map_key_in_loop.RULE,
        mg011_hot_map_creation.RULE,
        mg012_hot_map_growth.RULE,
        mg013_shared_map_alias.RULE,
        mg014_unproven_shared_map_race.RULE,
        mg015_context_map_written.RULE,
        mg016_cached_object_map_written.RULE,
        mg017_map_written_after_handoff.RULE,
    ),
    key=lambda rule: rule.code,
))

_BY_KEY = {rule.code: rule for rule in ALL_RULES} | {rule.name: rule for rule in ALL_RULES}


def rule_for(key: str) -> Rule:
    """A rule by code (`MG001`, any case) or name (`rebuild-instead-of-clear`)."""
    rule = _BY_KEY.get(key.upper()) or _BY_KEY.get(key.lower())
    if rule is None:
        known = ", ".join(r.code for r in ALL_RULES)
        raise UsageError(f"unknown rule {key!r} (known: {known})")
    return rule


def select_rules(select: list[str] | None, ignore: list[str], *,
                 extend: list[str] | None = None, profile: bool = False) -> tuple[Rule, ...]:
    """The rules a run uses: those named by `select`, else those on by default (with a
    profile, also the speed advice that is off by default: the profile ranks it), plus
    `extend`, less `ignore`."""
    if select:
        chosen = [rule_for(key) for key in select]
    else:
        chosen = [rule for rule in ALL_RULES
                  if rule.on_by_default or (profile and rule.code in PROFILE_RANKED)]
    chosen += [rule_for(key) for key in extend or ()]
    ignored = {rule_for(key).code for key in ignore}
    unique = {rule.code: rule for rule in chosen if rule.code not in ignored}
    return tuple(sorted(unique.values(), key=lambda rule: rule.code))


OFF_BY_DEFAULT: tuple[Rule, ...] = tuple(rule for rule in ALL_RULES if not rule.on_by_default)

# Off by default because their worth depends on how often the code runs (speed and style
# advice, left out of support code): a profile turns them on where it shows the code hot. The
# other rules off by default (MG014: a race proven only by reachability) are off because they
# are too often false, which no profile changes.
PROFILE_RANKED: frozenset[str] = frozenset(
    rule.code for rule in OFF_BY_DEFAULT if not rule.in_support_code)
