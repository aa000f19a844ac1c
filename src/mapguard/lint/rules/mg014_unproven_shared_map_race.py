"""## What it does
Reports the writes and lazy initialisations that MG004 and MG005 analyse and no longer report
because their only proof that the map is shared is that other goroutines can *reach* it: a field
reached through the receiver of a handler or a goroutine, a variable a goroutine captures, a map
handed to a goroutine or to a function that concurrent code calls with it, a package-level map
written by a goroutine that runs once. Same place, same message as MG004 or MG005 give, under
this code. **Off by default**: turn it on with `--extend-select MG014` (or `extend-select =
["MG014"]` in the configuration).

MG004 and MG005 keep the findings with one of the two kinds of proof never found false on trees
no rule was tuned on: a package-level variable (one map per process) written or lazily set up
in an HTTP handler or in a goroutine that runs several times at once (directly, or in a
function such code calls, where the map is that function's package-level variable); or the
package's own lock discipline: the function takes a lock to use the value but not to check it
(MG005's check-then-lock), or the same map — the same package-level variable, or the same field
of a value of the same type — is read or written elsewhere in the package's non-test code with a
lock held, while this write holds none (MG004: "... and elsewhere it is accessed with a lock
held (file:line)").

## Why is this bad?
When it is true, it is what MG004 and MG005 say: two goroutines write one map at once, and the
runtime kills the process with `fatal error: concurrent map writes`; or two goroutines both see
nil and one keeps using the value the other replaced. It is off by default because on real code
reachability alone is not enough to tell: in the hand reviews of fresh trees (docs/review/:
fresh-sample-round2.md, -round6.md, -round7.md, -round8.md, and the MG014 decision in
fresh-sample-round2.md) these findings were false 36–75 % of the time — an event loop that
owns its state, a goroutine its starter waits for through a channel, a value made for one
goroutine, an order set by code the rule does not see — while the proofs MG004 and MG005 keep
were not (one false finding in round 8, a lock taken under a flag, is the lock's miss). A check that
cannot be made precise is not on by default.

## Example
```go
type Tracker struct {
    seen map[string]int
}

func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
    t.seen[r.URL.Path]++ // every request's goroutine reaches t.seen
}
```

## Use instead
```go
type Tracker struct {
    mu   sync.Mutex
    seen map[string]int
}

func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
    t.mu.Lock()
    t.seen[r.URL.Path]++
    t.mu.Unlock()
}
```
Or give the map to one goroutine and send it the updates over a channel.

## When it is a false alarm
Often: that is why it is off. Whatever keeps the goroutines apart where the code does not show
it — one goroutine owning the map (an event loop whose registrations arrive over channels), a
value each goroutine gets its own copy of, a starter that waits through another function, a
lock the callers hold that no name or doc comment mentions — makes the finding false. Everything
MG004's and MG005's "When it is a false alarm" lists is left out here too. Suppress one finding
with `//mapguard:ignore MG014 <reason>`; an ignore comment that names MG004 or MG005 at the
place suppresses it too, so comments written before this rule existed keep working.
"""

from __future__ import annotations

from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.rules import mg004_unsynchronized_map_write as mg004
from mapguard.lint.rules import mg005_lazy_init_race as mg005
from mapguard.lint.rules import mg013_shared_map_alias as mg013


def run(pass_: Pass) -> None:
    # One analysis, two codes: MG004's and MG005's own, reporting what they leave.
    mg004.analyse(pass_, "unproven")
    mg005.analyse(pass_, "unproven")
    # And MG013's getter shape: a map returned past its lock, whose callers might read it
    # while the owner writes it — the same kind of proof.
    mg013.check_getters(pass_)


RULE = Rule(
    code="MG014",
    name="unproven-shared-map-race",
    severity=Severity.WARNING,
    summary="MG004/MG005 on a map shared only by reachability (receiver, capture, hand-over)",
    reports_at="the write (MG004's) or the `if` statement that holds the nil check (MG005's)",
    doc=__doc__ or "",
    run=run,
    # The getter shape needs a Lock or RLock call in the package.
    markers=(*mg004.RULE.markers, *mg005.RULE.markers, b".Lock()", b".RLock()"),
    anchors=mg005.RULE.anchors,
    bodies=(*mg004.CONTEXT_BODIES, *(mg005.RULE.bodies or ())),
    # It builds the package's concurrency model, as MG004 and MG005 do.
    whole_package=True,
    # 36–75 % false on fresh trees (docs/review/fresh-sample-round2.md, "MG014").
    on_by_default=False,
)
