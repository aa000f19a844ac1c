"""## What it does
Reports the writes and lazy initialisations that MG004 and MG005 analyse and no longer report
because their only proof that the map is shared is that other goroutines can *reach* it: a field
reached through the receiver of a handler or a goroutine, a variable a goroutine captures, a map
handed to a goroutine or to a function that concurrent code calls with it, a package-level map
written by a goroutine that runs once. Same place, same message as MG004 or MG005 give, under
this code. **Off by default**: turn it on with `--extend-select MG014` (or `extend-select =
["MG014"]` in the configuration).

It also reports MG013's former getter shape, a map **returned past its lock**: a method (or
function) returns the owner's map itself — as its result, one of its results, or a field of
the struct it returns — while the owner writes that map in place with its mutex held
(`s.mu.Lock(); s.labels[k] = v`), and the getter either takes that lock itself or is an
exported method of an exported type whose mutex callers cannot take. Reported at the returned
map, with the message MG013 gave ("returns `s.labels` itself, which is written in place with a
lock held (line 27): ..."). Its proof is of the same kind: a caller *might* read the map while
the owner writes it; whether one does is decided by code the getter's text does not show.

It also reports a method that writes its receiver's map field with **no lock held**, where the
package writes that field with the receiver's own lock held exclusively (`s.mu.Lock()`) in at
least two other functions — the type's rule for that map — even where no goroutine or handler
is in sight (`(*Store).Reset` writing `s.items` that `Add` and `Remove` write under `s.mu`).
Left out: a function that builds the value (`&Store{...}` in its body), `init`, an
unexported method each of whose calls holds the write lock or runs on a value not yet shared (in
a function that builds it, on `v := NewStore()`, or in another such method) or that the package
uses as a value, and a method that releases the receiver's lock without taking it (it
runs with the lock a method before it took: `StartCollection` locks, `Finish` unlocks). Its
proof is of the same kind as the rest of MG014's: the method might run while the value is shared;
a set-up phase, or a caller in another package that holds the lock, makes it false (the first
fresh-tree sample of 2026-12-07: 1 finding in 48 repositories, a `SetState` called before the
plugin starts).

MG004 and MG005 keep the findings with a proof that held on trees no rule was tuned on: a
package-level variable (one map per process) written or lazily set up in an HTTP handler or in a
goroutine that runs several times at once (directly, or in a function such code calls, where the map
is that function's package-level variable); for MG004, a variable of the function that starts
goroutines in a loop, declared before the loop and written by each pass's goroutine, in its body
or in a function it hands the variable to (`for ... { go func() { m[k] = v }() }`, `go func() {
t.add(k) }()`; the passes not waiting for it, no locked use elsewhere);
or, for MG005 in that same code, check-then-lock: the
function takes a lock to use the value but not to check it. Check-then-lock outside concurrent code
(a method of a type that holds a mutex, a function of the package) is MG014's: in rounds 10 and 11,
5 of those 6 findings were false (the function ran on one goroutine, or on a value not yet shared: a
per-call value, a spec being decoded). A write that MG004 reported because the same map — the same
package-level variable, or the same field of a value of the same type — is read or written elsewhere
in the package's non-test code with a lock held, while this write holds none, is MG014's too; its
message still says so ("... and elsewhere it is accessed with a lock held (file:line)"). In the
review's round 10, 7 of those 9 findings were false: the write was under a lock the rule does not
see (a wrapper that takes the lock around every handler it registers; `if lock { b.Lock() }`, seen
since).

## Why is this bad?
When it is true, it is what MG004 and MG005 say: two goroutines write one map at once, and the
runtime kills the process with `fatal error: concurrent map writes`; or two goroutines both see
nil and one keeps using the value the other replaced. It is off by default because on real code
reachability alone is not enough to tell: in the hand reviews of fresh trees (docs/review/:
fresh-sample-round2.md, -round6.md, -round7.md, -round8.md, and the MG014 decision in
fresh-sample-round2.md) these findings were false 36–75 % of the time — an event loop that
owns its state, a goroutine its starter waits for through a channel, a value made for one
goroutine, an order set by code the rule does not see — while the proofs MG004 and MG005 keep
were not (one false finding in round 8, a lock taken under a flag, was the lock's miss,
since fixed). The
getter shape is no better (docs/review/fresh-sample-round9.md; round 9: 12 of MG013's 19
findings false, 18 of the 19 getters, 11 of those false): in each false getter the program
finishes every write before the only caller reads the map (a WaitGroup join, a "synced" flag,
the same goroutine); round 8 had 3 real, 5 noise, 1 false of that shape. A check that cannot
be made precise is not on by default.

## Example
```go
type Tracker struct {
    seen map[string]int
}

func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
    t.seen[r.URL.Path]++ // every request's goroutine reaches t.seen
}

func (s *Series) Labels() map[string]string {
    s.mu.RLock()
    defer s.mu.RUnlock()
    return s.labels // the caller reads it after RUnlock, while SetLabel writes it under Lock
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

func (s *Series) Labels() map[string]string {
    s.mu.RLock()
    defer s.mu.RUnlock()
    return maps.Clone(s.labels) // Go 1.21; or a copy loop
}
```
Or give the map to one goroutine and send it the updates over a channel; or let the owner of a
handed-out map publish copy-on-write (replace the whole map under the lock, never write it in
place), so a map once returned is never written again.

## When it is a false alarm
Often: that is why it is off. Whatever keeps the goroutines apart where the code does not show
it — one goroutine owning the map (an event loop whose registrations arrive over channels), a
value each goroutine gets its own copy of, a starter that waits through another function, a
lock the callers hold that no name or doc comment mentions — makes the finding false. Everything
MG004's and MG005's "When it is a false alarm" lists is left out here too. A getter's finding is
false when every write happens before the only caller reads the map: writers joined by a
`WaitGroup` (or `errgroup`) before the getter is called, writes accepted only until a "synced"
flag is set and the map returned only after it, a build phase on the caller's own goroutine, a
fresh map swapped in before the next write.

Not reported for a getter: an owner that never writes the map in place with a lock held (filled
only by a constructor or at package initialisation — in `init`, or in a function only `init`
calls that no other package of the module names — replaced wholesale, or written without locks,
which is MG004's subject); a getter that says its caller holds the lock (`...Locked`, "callers
must hold s.mu"); an unexported getter that does not lock; a getter of a type whose mutex
callers can take (embedded or exported); a getter that records the check-out in the owner
(`b.flushing = true`, which its writers wait for); a returned struct that takes the owner's
mutex along with the map (`seen: d.seen, mu: d.mu`); test files and test-support packages. A
doc comment saying the returned map "must not be modified" does not silence it: the owner's own
writes race with the caller's reads. A caller that *writes* what a locking getter returned is
MG013's, on by default.

Suppress one finding with `//mapguard:ignore MG014 <reason>`; an ignore comment that names
MG004, MG005 or MG013 at the place suppresses it too, so comments written before this rule took
their findings keep working.
"""

from __future__ import annotations

from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.rules import mg004_unsynchronized_map_write as mg004
from mapguard.lint.rules import mg005_lazy_init_race as mg005
from mapguard.lint.rules import mg013_shared_map_alias as mg013
from mapguard.source.locks import Mode


def run(pass_: Pass) -> None:
    # One analysis, two codes: MG004's and MG005's own, reporting what they leave.
    mg004.analyse(pass_, "unproven")
    # A write under only a read lock that the type guards with the write lock elsewhere has
    # MG004's proof: MG014 does not repeat it.
    claimed = mg004.claimed_by_read_lock(pass_)
    pass_.findings[:] = [f for f in pass_.findings if (f.path, f.line, f.column) not in claimed]
    mg005.analyse(pass_, "unproven")
    # And MG013's getter shape: a map returned past its lock, whose callers might read it
    # while the owner writes it — the same kind of proof.
    mg013.check_getters(pass_)
    # And a method writing its receiver's map without the lock the type writes it under
    # elsewhere, outside the concurrency MG004 sees.
    mg004.report_unguarded(pass_, Mode.NONE)


RULE = Rule(
    code="MG014",
    name="unproven-shared-map-race",
    severity=Severity.WARNING,
    summary="MG004/MG005 on a map shared only by reachability (receiver, capture, hand-over, "
            "locked elsewhere), and a map returned past its lock",
    reports_at="the write (MG004's), the `if` statement that holds the nil check (MG005's), or "
               "the returned map (a getter's)",
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
