"""Diagnosis: the evidence of one label joined on sites, matched against the cause library,
costed and ranked.

1. *Subjects*: every map the evidence mentions, anchored where a fix would go — the line that
   makes the map (a measured growth is followed to its creation by `origins`), or the line a
   rule reports. Lint findings, allocation and CPU profile sites, eBPF growth stalls and the
   compiler's escape verdicts meet there.
2. *Causes*: the first cost entry of the library whose predicates hold, and every correctness
   entry that does.
3. *Cost*: the measurements the entry names, as a share of their resource (allocated bytes, CPU
   time, wall time), and the GC CPU the allocation costs by the GC guide's model.
4. *Ranking*: by that cost; below the threshold a measured cause is listed as such; a cause seen
   only in the code is never ranked, it says what to measure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mapguard.bundle.evidence import (
    CostEvidence,
    EbpfEvidence,
    EscapeEvidence,
    GcEvidence,
    LintEvidence,
    LintFinding,
    LoadEvidence,
    SiteValue,
    SloEvidence,
    Stall,
)
from mapguard.diagnose import costmodel
from mapguard.diagnose.knowledge import CauseEntry
from mapguard.diagnose.model import Cost, Diagnosed, Diagnosis, Evidence, Unexplained
from mapguard.diagnose.sites import SiteFiles
from mapguard.evidence.causes import Creation, creation_of
from mapguard.evidence.quantities import human
from mapguard.evidence.site import Site
from mapguard.evidence.sourcetree import SourceFiles

DEFAULT_THRESHOLD = 0.01
_SEVERITY = {"error": 0, "warning": 1, "info": 2}
# Why an unexplained site is unexplained when only the call's own frames could tell: the one case
# where reading the library frames (a next step) helps.
WORK_INSIDE_A_CALL = "no map insert or creation on this line: the map work is inside a call on it"
_RESOURCES = {"bytes": "allocated bytes", "cpu": "CPU time", "stalls": "growth stall time"}


@dataclass(frozen=True, slots=True)
class LabelEvidence:
    """Everything one label of a bundle (or a live source) holds."""

    label: str
    source: Path | None = None
    lint: tuple[LintEvidence, ...] = ()
    escape: tuple[EscapeEvidence, ...] = ()
    allocation: CostEvidence | None = None
    cpu: CostEvidence | None = None
    gc: GcEvidence | None = None
    ebpf: EbpfEvidence | None = None
    loads: tuple[LoadEvidence, ...] = ()
    slo: tuple[SloEvidence, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        found = [e.origin for e in (*self.lint, *self.escape, self.allocation, self.cpu,
                                    self.gc, self.ebpf, *self.loads, *self.slo) if e is not None]
        return tuple(found)


@dataclass
class _Subject:
    anchor: Site  # resolved file (when readable), line, function
    display: str
    origin: Creation | None = None  # where its map is made, when an insert was followed
    inserts: bool = False  # a measured line of it inserts into a map
    findings: list[tuple[LintFinding, str]] = field(default_factory=list)  # with its origin
    bytes_by_op: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sites: list[SiteValue] = field(default_factory=list)
    cpu_ns: int = 0
    cpu_sites: list[SiteValue] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    escape: list[tuple[str, str, str | None]] = field(default_factory=list)  # verdict, expr, why

    @property
    def rules(self) -> set[str]:
        return {finding.rule for finding, _ in self.findings}


class _Subjects:
    def __init__(self, files: SiteFiles, sources: SourceFiles) -> None:
        self.files = files
        self.sources = sources
        self.by_key: dict[tuple[str, int], _Subject] = {}

    def at(self, file: str, line: int, function: str | None,
           origin: Creation | None = None) -> _Subject:
        resolved = self.files.resolve(file) or file
        key = (resolved, line)
        subject = self.by_key.get(key)
        if subject is None:
            subject = _Subject(Site(resolved, line, 0, function),
                               f"{self.files.display(resolved)}:{line}", origin)
            self.by_key[key] = subject
        if subject.anchor.function is None and function:
            subject.anchor = replace(subject.anchor, function=function)
        if subject.origin is None and origin is not None:
            subject.origin = origin
        return subject

    def for_site(self, site: Site, op: str) -> _Subject:
        """The subject a measured site belongs to: the creation of the map a growth inserts
        into, when the source shows it (`evidence.causes`), else the site itself."""
        if site.line <= 0:  # a function-only site (watch without source)
            return self.at(site.function or "?", 0, site.function)
        source, path = self.sources.get(site.file), self.sources.resolve(site.file)
        operands = (source.insert_operands(site.line) if op != "create" and source is not None
                    and path is not None else [])
        origin = None
        if operands:
            assert source is not None and path is not None
            origin = creation_of(source, path, operands[0], self.sources)
        if origin is not None and origin.site is not None:
            subject = self.at(origin.site.file, origin.site.line, site.function, origin)
        else:
            subject = self.at(site.file, site.line, site.function, origin)
        subject.inserts = subject.inserts or bool(operands)
        return subject


def diagnose(evidence: LabelEvidence, knowledge: Sequence[CauseEntry], *,
             threshold: float = DEFAULT_THRESHOLD) -> Diagnosis:
    files = SiteFiles(evidence.source)
    subjects = _Subjects(files, SourceFiles(evidence.source))
    _gather(evidence, subjects)
    matched: list[Diagnosed] = []
    claimed: set[tuple[str, int]] = set()
    for key, subject in subjects.by_key.items():
        diagnosed = _match(subject, knowledge, evidence)
        matched += diagnosed
        if any(d.cause.kind == "cost" for d in diagnosed):
            claimed.add(key)
    allocation_measured = evidence.allocation is not None
    causes: list[Diagnosed] = []
    below: list[Diagnosed] = []
    unmeasured: list[Diagnosed] = []
    risks: list[Diagnosed] = []
    for found in matched:
        if found.cause.kind == "correctness":
            risks.append(found)
        elif found.cost is None:
            unmeasured.append(found)
        elif (found.cost.share or 0.0) >= threshold:
            causes.append(found)
        else:
            below.append(found)
    causes.sort(key=lambda d: (-(d.cost.impact if d.cost else 0.0), d.display))
    below.sort(key=lambda d: (-(d.cost.share or 0.0) if d.cost else 0.0, d.display))
    risks.sort(key=lambda d: (_risk_rank(d), d.display))
    unexplained = _unexplained(subjects, claimed, evidence, threshold)
    ranked_by = ("estimated GC CPU (share of allocated bytes x measured GC CPU)"
                 if evidence.gc is not None and evidence.gc.gc_cpu_percent is not None
                 and allocation_measured else "share of the measured resource")
    return Diagnosis(
        label=evidence.label, threshold=threshold, ranked_by=ranked_by, causes=tuple(causes),
        below=tuple(below), unmeasured=tuple(unmeasured), risks=tuple(risks),
        unexplained=tuple(unexplained), context=tuple(_context(evidence)),
        next_steps=tuple(_next_steps(evidence, causes, unmeasured, unexplained)),
        sources=evidence.sources, notes=evidence.notes,
    )


def attach_correlations(diagnosis: Diagnosis, correlations: list[dict[str, Any]]) -> Diagnosis:
    """Each correlation also becomes evidence of the cause whose measured site it is about."""

    def with_correlation(found: Diagnosed) -> Diagnosed:
        labels = {f"{s.site.file}:{s.site.line}" for s in found.sites} | {
            s.site.function for s in found.sites if s.site.function}
        extra = tuple(Evidence("correlation", "prometheus", c["statement"])
                      for c in correlations if c["site"] in labels)
        return replace(found, evidence=found.evidence + extra) if extra else found

    return replace(diagnosis, causes=tuple(map(with_correlation, diagnosis.causes)),
                   below=tuple(map(with_correlation, diagnosis.below)),
                   correlations=tuple(correlations))


def _risk_rank(found: Diagnosed) -> int:
    severities = [_SEVERITY.get(e.statement.split("]", 1)[0].lstrip("["), 1)
                  for e in found.evidence if e.kind == "lint"]
    return min(severities, default=1)


# --- gathering ------------------------------------------------------------------------------


def _gather(evidence: LabelEvidence, subjects: _Subjects) -> None:
    for lint in evidence.lint:
        for finding in lint.findings:
            subjects.at(finding.file, finding.line, None).findings.append(
                (finding, lint.origin))
    if evidence.allocation is not None:
        for value in evidence.allocation.sites:
            subject = subjects.for_site(value.site, value.op)
            subject.bytes_by_op[value.op] += value.value
            subject.sites.append(value)
    if evidence.cpu is not None:
        for value in evidence.cpu.sites:
            subject = subjects.for_site(value.site, value.op)
            subject.cpu_ns += value.value
            subject.cpu_sites.append(value)
    if evidence.ebpf is not None:
        for stall in evidence.ebpf.stalls:
            subjects.for_site(stall.site, "grow").stalls.append(stall)
    # The compiler's flows name positions by absolute path: shown relative to the source tree.
    root = subjects.files.root
    for escape in evidence.escape:
        for fact in escape.sites:
            resolved = subjects.files.resolve(fact.site.file) or fact.site.file
            known = subjects.by_key.get((resolved, fact.site.line))
            if known is not None:
                why = fact.why.replace(f"{root}/", "") if fact.why and root else fact.why
                known.escape.append((fact.verdict, fact.expr, why))


# --- matching -------------------------------------------------------------------------------


def _holds(entry: CauseEntry, subject: _Subject, rule: str | None) -> bool:
    requires = entry.requires
    if requires.lint == "none":
        if subject.findings:
            return False
    elif requires.lint is not None and requires.lint != rule:
        return False
    if requires.measured and not any(subject.bytes_by_op.get(op, 0) > 0
                                     for op in requires.measured):
        return False
    if requires.origin is not None:
        origin = subject.origin
        if origin is None:
            return False
        facts = {"per_call": _per_call(origin), "sized": origin.sized,
                 "in_loop": origin.loop_line is not None}
        if any(facts[key] != wanted for key, wanted in requires.origin.items()):
            return False
    if requires.stalls and not subject.stalls:
        return False
    return not (requires.cpu and subject.cpu_ns <= 0)


def _per_call(origin: Creation) -> bool:
    """Made in the function that fills it, so on every call."""
    return origin.site is not None and origin.how == "in the same function"


def _match(subject: _Subject, knowledge: Sequence[CauseEntry],
           evidence: LabelEvidence) -> list[Diagnosed]:
    found: list[Diagnosed] = []
    cost_taken = False
    rules: list[str | None] = [*sorted(subject.rules)] or [None]
    for entry in knowledge:
        if entry.kind == "cost" and cost_taken:
            continue
        for rule in rules:
            if _holds(entry, subject, rule):
                found.append(_diagnosed(entry, subject, evidence))
                cost_taken = cost_taken or entry.kind == "cost"
                break
    return found


# --- costing --------------------------------------------------------------------------------


def _diagnosed(entry: CauseEntry, subject: _Subject, evidence: LabelEvidence) -> Diagnosed:
    items = _lint_items(entry, subject) + _source_items(subject) + _escape_items(subject)
    cost, measured, sites = (None, [], []) if entry.kind == "correctness" else _cost(
        entry, subject, evidence)
    items += measured
    kinds = {item.kind for item in items}
    if cost is None:
        confidence = "static"
    elif kinds & {"lint", "escape"}:
        confidence = "high"
    elif "source" in kinds:
        confidence = "medium"
    else:
        confidence = "low"
    found = Diagnosed(entry, subject.anchor, subject.display, confidence, tuple(items),
                      tuple(sites), cost)
    return replace(found, statement=_statement(found, subject))


def _lint_items(entry: CauseEntry, subject: _Subject) -> list[Evidence]:
    return [Evidence("lint", origin, f"[{f.severity}] {f.rule} {f.name} at "
                                     f"{subject.display}: {f.message}")
            for f, origin in subject.findings if entry.rule is None or f.rule == entry.rule]


def _source_items(subject: _Subject) -> list[Evidence]:
    origin = subject.origin
    if origin is None or origin.site is None:
        return []
    made = f"the map is made at line {origin.site.line} ({origin.text}), {origin.how}"
    where = (f", anew on every pass of the loop at line {origin.loop_line}"
             if origin.loop_line else ", on every call" if _per_call(origin) else "")
    sized = "" if origin.sized else ", without a size hint"
    inserts = sorted({s.site.line for s in subject.sites if s.site.line != origin.site.line})
    grown = f"; inserts at line{'s' if len(inserts) > 1 else ''} " \
        f"{', '.join(map(str, inserts))} grow it" if inserts else ""
    return [Evidence("source", subject.display, f"{made}{where}{sized}{grown}")]


def _escape_items(subject: _Subject) -> list[Evidence]:
    return [Evidence("escape", "compiler (-gcflags=-m)",
                     f"{expr} at {subject.display}: {verdict}" + (f" ({why})" if why else ""))
            for verdict, expr, why in subject.escape]


def _cost(entry: CauseEntry, subject: _Subject, evidence: LabelEvidence
          ) -> tuple[Cost | None, list[Evidence], list[SiteValue]]:
    measures = entry.cost
    allocation, cpu, ebpf = evidence.allocation, evidence.cpu, evidence.ebpf
    readable = Path(subject.anchor.file).is_file()  # else sites cannot be followed to it
    if measures.bytes_ops and allocation is not None and (readable or subject.sites):
        sites = [s for s in subject.sites if s.op in measures.bytes_ops]
        value = sum(s.value for s in sites)
        if value > 0 or measures.line_bytes is False:
            return (_bytes_cost(value, allocation, evidence.gc), [_allocation_item(
                value, sites, allocation, subject)], sites)
    if measures.line_bytes and allocation is not None and allocation.lines and readable:
        value = _line_bytes(subject, allocation)
        statement = (f"{subject.display} itself allocates {human(value, 'bytes')} besides map "
                     f"tables ({_percent(value, allocation.total)} of all allocated bytes)"
                     if value else f"{subject.display} allocates nothing in this profile")
        return (_bytes_cost(value, allocation, evidence.gc),
                [Evidence(allocation.kind, allocation.origin, statement)], [])
    if measures.stalls and ebpf is not None and subject.stalls:
        total_s = sum(s.sum_s for s in subject.stalls)
        worst = max(s.p99_s for s in subject.stalls)
        count = sum(s.count for s in subject.stalls)
        cost = Cost("growth stall time", total_s,
                    total_s / ebpf.seconds if ebpf.seconds else None, stall_p99_s=worst)
        return cost, [Evidence("ebpf", ebpf.origin,
                               f"{count} growths at {subject.display}, p99 "
                               f"{worst * 1e3:.3f} ms, {total_s * 1e3:.1f} ms in all over "
                               f"{ebpf.seconds:.0f} s")], []
    if measures.cpu and cpu is not None and subject.cpu_ns > 0:
        cost = Cost("CPU time", subject.cpu_ns,
                    subject.cpu_ns / cpu.total if cpu.total else None)
        ops = sorted({s.op for s in subject.cpu_sites})
        return cost, [Evidence("cpu", cpu.origin,
                               f"{human(subject.cpu_ns, 'nanoseconds')} of CPU in map "
                               f"{'/'.join(ops)} at {subject.display} "
                               f"({_percent(subject.cpu_ns, cpu.total)} of the profile)")], \
            list(subject.cpu_sites)
    return None, [], []


def _bytes_cost(value: int, allocation: CostEvidence, gc: GcEvidence | None) -> Cost:
    share = value / allocation.total if allocation.total else None
    per_request = value / allocation.requests if allocation.requests else None
    gc_cpu = costmodel.gc_cpu_percent(share, gc) if share is not None else None
    return Cost("allocated bytes", value, share, per_request, gc_cpu)


def _allocation_item(value: int, sites: Sequence[SiteValue], allocation: CostEvidence,
                     subject: _Subject) -> Evidence:
    parts = ", ".join(f"{human(s.value, 'bytes')} {s.op} at line {s.site.line}"
                      for s in sorted(sites, key=lambda s: -s.value)[:4])
    per_request = (f", {value / allocation.requests:,.0f} B per request"
                   if allocation.requests else "")
    return Evidence(allocation.kind, allocation.origin,
                    f"{human(value, 'bytes')} allocated for this map "
                    f"({_percent(value, allocation.total)} of {human(allocation.total, 'bytes')}"
                    f"{per_request})" + (f": {parts}" if parts else ""))


def _line_bytes(subject: _Subject, allocation: CostEvidence) -> int:
    file, line = subject.anchor.file, subject.anchor.line
    at_line = sum(v for (f, n), v in allocation.lines.items() if n == line and (
        f == file or f.endswith("/" + Path(file).name)))
    tables = sum(s.value for s in subject.sites if s.site.line == line)
    return max(0, at_line - tables)


def _percent(value: float, total: float) -> str:
    return f"{100 * value / total:.1f}%" if total else "-"


def _statement(found: Diagnosed, subject: _Subject) -> str:
    cause, cost = found.cause, found.cost
    where = found.display
    function = subject.anchor.function or (
        subject.origin.site.function if subject.origin and subject.origin.site else None)
    head = f"{where}" + (f" in {function.rsplit('/', 1)[-1]}" if function else "")
    if cost is None:
        return f"{head}: {cause.title} (seen in the code, not measured)"
    if cost.resource == "allocated bytes" and cost.value == 0:
        return f"{head}: {cause.title}: measured, nothing allocated there"
    if cost.resource == "allocated bytes":
        share = f"{100 * cost.share:.1f}% of allocated bytes" if cost.share is not None else \
            human(int(cost.value), "bytes")
        gc = (f", about {cost.gc_cpu_percent:.2f}% of CPU in GC" if cost.gc_cpu_percent
              is not None else "")
        return f"{head}: {cause.title}: {share}{gc}"
    if cost.resource == "growth stall time":
        return (f"{head}: {cause.title}: stalls of up to {1e3 * (cost.stall_p99_s or 0):.2f} ms "
                f"(p99)")
    share = f"{100 * cost.share:.1f}% of CPU" if cost.share is not None else "measured"
    return f"{head}: {cause.title}: {share}"


# --- what nothing explains, context, next steps -----------------------------------------------


def _unexplained(subjects: _Subjects, claimed: set[tuple[str, int]], evidence: LabelEvidence,
                 threshold: float) -> list[Unexplained]:
    allocation = evidence.allocation
    if allocation is None:
        return []
    found = []
    for key, subject in subjects.by_key.items():
        if key in claimed:
            continue
        for op, value in subject.bytes_by_op.items():
            share = value / allocation.total if allocation.total else None
            if value <= 0 or (share is not None and share < threshold):
                continue
            found.append(Unexplained(subject.display, subject.anchor.function, op, value, share,
                                     _why_unexplained(subject, op, evidence.source and
                                                      evidence.source.resolve())))
    return sorted(found, key=lambda u: -u.value)


def _why_unexplained(subject: _Subject, op: str, root: Path | None) -> str:
    origin = subject.origin
    if subject.anchor.line <= 0:
        return "a function-level site (no source line): give --source to read it"
    if origin is not None and origin.how.startswith("field"):
        return (f"a long-lived map ({origin.how}) growing as it fills: size it where it is made "
                "if its final size is known")
    if origin is not None and origin.site is None:
        return f"{origin.text}: the map is made {origin.how}"
    if subject.inserts:
        return "an insert into a map whose creation this package does not show"
    if op == "create":
        return "a map made at its final size: what remains is the table itself"
    via = sorted({s.via for s in subject.sites if s.via})
    if via:
        return (f"the map is filled inside {', '.join(f.rsplit('/', 1)[-1] for f in via)}, "
                "called on this line: library code, not a pattern of this module")
    if not Path(subject.anchor.file).is_file():
        return "the source of this line was not read: give --source DIR"
    if root is not None and not Path(subject.anchor.file).resolve().is_relative_to(root):
        return "library code outside the source tree, with no caller in it"
    return WORK_INSIDE_A_CALL


def _context(evidence: LabelEvidence) -> list[Evidence]:
    found = []
    allocation = evidence.allocation
    if allocation is not None and allocation.is_allocation:
        requests = f" over {allocation.requests:,} requests" if allocation.requests else ""
        found.append(Evidence(allocation.kind, allocation.origin,
                              f"{human(allocation.total, 'bytes')} allocated{requests}, "
                              f"{_percent(allocation.map_total, allocation.total)} of it in "
                              f"map tables"))
    if evidence.gc is not None:
        found.append(Evidence("gc", evidence.gc.origin, costmodel.describe(evidence.gc)))
    for load in evidence.loads:
        for step in load.steps:
            for verdict in step.slo:
                if verdict.held is False:
                    burn = f" (burn rate {verdict.burn_rate:.1f}x)" if verdict.burn_rate else ""
                    found.append(Evidence("slo", load.origin,
                                          f"SLO {verdict.slo} broke at {step.name}{burn}"))
    for slo in evidence.slo:
        for state in slo.slos:
            burning = [w for w in state.windows if (w.burn_rate or 0) > 1]
            if burning or state.alerts:
                found.append(Evidence("slo", slo.origin, f"SLO {state.slo} burning: " + ", ".join(
                    f"{w.window} {w.burn_rate:.1f}x" for w in burning if w.burn_rate) +
                    (f"; firing {', '.join(state.alerts)}" if state.alerts else "")))
    return found


def _next_steps(evidence: LabelEvidence, causes: Sequence[Diagnosed],
                unmeasured: Sequence[Diagnosed], unexplained: Sequence[Unexplained]
                ) -> list[str]:
    steps = []
    if evidence.allocation is None:
        steps.append("collect an allocation profile under representative load: mapguard "
                     "profile http://HOST:PORT/debug/pprof/allocs --bundle DIR (or save "
                     "/debug/pprof/allocs into DIR/profiles/LABEL.allocs.pb.gz)")
    if evidence.allocation is not None and evidence.source is None:
        steps.append("give the Go source the profile was built from (--source DIR): sites are "
                     "then followed to the line that makes their map")
    if evidence.gc is None and evidence.allocation is not None:
        steps.append("collect the GC trace of the same run (GODEBUG=gctrace=1; mapguard gc -- "
                     "./server --bundle DIR) to turn allocated bytes into GC CPU")
    if not evidence.lint:
        steps.append("lint the code (mapguard lint --extend-select MG001,MG002,MG010 ./... "
                     "--bundle DIR: the speed advice is off by default) to name the patterns "
                     "behind the measured sites")
    if unmeasured:
        names = ", ".join(sorted({d.cause.rule or d.cause.id for d in unmeasured}))
        steps.append(f"measure what lint found ({names}): an allocation profile "
                     "(and a CPU profile for clear loops) of the code under load")
    if any(item.why == WORK_INSIDE_A_CALL for item in unexplained):
        steps.append("for the unexplained sites: look at what the call on that line fills "
                     "(mapguard profile --source shows the library frames)")
    if not causes and evidence.allocation is not None and not unexplained:
        steps.append("nothing above the threshold: lower --threshold to see smaller causes")
    return steps
