"""A drop-in for Sloth: every Sloth example loads (or names the Go plugin it needs), the rules
keep Sloth's identities, pass promtool, and alert when Sloth's own rules alert.

The reference is what Sloth itself generated from its examples (testdata/sloth/examples/_gen,
with `--extra-labels cmd=examplesgen.sh`). Burn scenarios run Sloth's rules and ours in one
promtool process on the same input: Sloth's renamed (`ref:slo:...`, alerts `Ref<name>`) so
both sets live side by side, and PromQL compares when each fired.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapguard.cli import main
from mapguard.slo.alert_windows import load_catalogs
from mapguard.slo.durations import Duration
from mapguard.slo.generate import generate, with_options
from mapguard.slo.model import Tier
from mapguard.slo.rules import render
from mapguard.slo.spec import check_specs, load_specs

TESTDATA = Path(__file__).parent / "testdata"
SLOTH = TESTDATA / "sloth" / "examples"
GEN = SLOTH / "_gen"
OPENSLO = TESTDATA / "openslo" / "examples"
EXTRA = {"cmd": "examplesgen.sh"}  # what Sloth's examples were generated with
# Examples whose SLI or SLO plugin is Go code mapguard does not run: they must name it.
GO_PLUGINS = {
    "plugin-getting-started.yml": "SLI plugin 'getting_started_availability'",
    "plugin-k8s-getting-started.yml": "SLI plugin 'getting_started_availability'",
    "contrib-denominator-corrected.yaml":
        "SLO plugin 'sloth.dev/contrib/denominator_corrected_rules/v1'",
    "victoria-metrics.yml": "SLO plugin 'sloth.dev/contrib/validate_victoria_metrics/v1'",
}
# Its info_labels plugin adds label names (plug-l1) that only Prometheus 3 accepts: Sloth's own
# rules fail promtool 2 the same way.
UTF8_LABELS = "contrib-slo-plugins.yml"
EXAMPLES = sorted(p.name for p in SLOTH.glob("*.y*ml"))
LOADABLE = [name for name in EXAMPLES if name not in GO_PLUGINS]

Capsys = pytest.CaptureFixture[str]


def rule_groups(path: Path) -> list[dict[str, Any]]:
    """The rule groups of a rule file or of PrometheusRule objects (several documents)."""
    groups: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            groups += document["spec"]["groups"] if document.get("kind") else document["groups"]
    return groups


def ours(example: str, tmp_path: Path, **options: Any) -> Path:
    specs = with_options(load_specs([SLOTH / example], **options), extra_labels=EXTRA)
    path = tmp_path / example
    path.write_text(render(generate(specs)))
    return path


def identities(path: Path) -> tuple[set[tuple[str, tuple[tuple[str, str], ...]]], list[Any]]:
    """Recording rules (name, labels) and alerting rules (name, labels, annotations), less the
    labels that name the generator."""
    records, alerts = set(), []
    for group in rule_groups(path):
        for rule in group["rules"]:
            labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()
                      if k not in {"sloth_version", "sloth_mode"}}
            if "record" in rule:
                records.add((rule["record"], tuple(sorted(labels.items()))))
            else:
                alerts.append((rule["alert"], sorted(labels.items()),
                               sorted((rule.get("annotations") or {}).items())))
    return records, sorted(alerts)


# ------------------------------------------------------------------------- loading


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_sloth_example_loads_or_names_its_go_plugin(example: str) -> None:
    specs, problems = check_specs([SLOTH / example])
    if example in GO_PLUGINS:
        assert problems, example
        assert GO_PLUGINS[example] in str(problems[0])
        assert "Go code" in str(problems[0]) and "\n" not in str(problems[0])
    else:
        assert problems == () and specs.slos


def test_alert_window_catalogs_replace_the_workbook_as_in_sloth(tmp_path: Path) -> None:
    catalog = load_catalogs(SLOTH / "windows")
    week = load_specs([SLOTH / "getting-started.yml"], catalog=catalog,
                      default_period=_days(7)).slos[0]
    assert [(w.tier.value, w.pair, float(w.factor)) for w in week.alerting.windows] == [
        ("page", "1h/5m", 13.44), ("page", "6h/30m", 3.5),
        ("ticket", "1d/2h", 1.4), ("ticket", "3d/6h", 0.98),
    ]
    month = load_specs([SLOTH / "getting-started.yml"], catalog=catalog).slos[0]
    assert [w.pair for w in month.alerting.windows] == ["30m/2m", "3h/15m", "12h/1h", "36h/3h"]
    assert main(["slo", "validate", str(SLOTH / "getting-started.yml"), "--no-promtool",
                 "--slo-period-windows-path", str(SLOTH / "windows"),
                 "--default-slo-period", "14d"]) == 2  # no catalog for 14d: as Sloth, refused


def _days(count: int) -> Duration:
    return Duration(count * 86400)


# ------------------------------------------------------------------------- identity


@pytest.mark.slow
def test_rules_keep_sloth_identities_and_pass_promtool(promtool: str, tmp_path: Path) -> None:
    written = {example: ours(example, tmp_path) for example in LOADABLE}
    for example, path in written.items():
        sloth_records, sloth_alerts = identities(GEN / example)
        our_records, our_alerts = identities(path)
        # Every recording rule Sloth writes, with the same labels (ours add extras beside).
        assert sloth_records <= our_records, (example, sorted(sloth_records - our_records)[:3])
        # The same alerts: names, sloth_severity, severity and every other label and annotation.
        assert our_alerts == sloth_alerts, example
    checked = [path for example, path in written.items() if example != UTF8_LABELS]
    proc = subprocess.run([promtool, "check", "rules", *map(str, checked)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The example whose plugin adds UTF-8 label names: promtool 2 rejects Sloth's and ours alike.
    reference = tmp_path / "sloth-utf8.yml"
    reference.write_text(yaml.safe_dump({"groups": rule_groups(GEN / UTF8_LABELS)}))
    for path in (written[UTF8_LABELS], reference):
        proc = subprocess.run([promtool, "check", "rules", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and "invalid label name: plug-l1" in proc.stdout + proc.stderr


def test_kubernetes_form_writes_a_prometheusrule_per_input(capsys: Capsys,
                                                           tmp_path: Path) -> None:
    target = tmp_path / "k8s.yml"
    assert main(["slo", "generate", str(SLOTH / "k8s-multifile.yml"), "--no-check",
                 "--format", "prometheusrule", "--extra-labels", "cmd=examplesgen.sh",
                 "-o", str(target)]) == 0
    mine = [d for d in yaml.safe_load_all(target.read_text()) if d]
    theirs = [d for d in yaml.safe_load_all((GEN / "k8s-multifile.yml").read_text()) if d]
    assert len(mine) == len(theirs) == 2
    for our, their in zip(mine, theirs, strict=True):
        assert (our["apiVersion"], our["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
        assert {k: our["metadata"][k] for k in ("name", "namespace")} == \
            {k: their["metadata"][k] for k in ("name", "namespace")}
        assert our["metadata"]["labels"]["app.kubernetes.io/component"] == "SLO"
        assert [g["name"] for g in our["spec"]["groups"]] == \
            [g["name"] for g in their["spec"]["groups"]]


# ------------------------------------------------------------------- burn scenarios


def counter(per_minute: Iterable[tuple[int, int]], start: int = 100_000) -> str:
    """promtool's notation for a counter growing by whole increments: (minutes, per minute)."""
    parts, value = [], start
    for index, (length, increment) in enumerate(per_minute):
        head = value if index == 0 else value + increment
        count = length if index == 0 else length - 1
        parts.append(f"{head}+{increment}x{count}")
        value = head + increment * count
    return " ".join(parts)


def gauge(levels: Iterable[tuple[int, float]]) -> str:
    parts = []
    for index, (length, level) in enumerate(levels):
        parts.append(f"{level}+0x{length if index == 0 else length - 1}")
    return " ".join(parts)


Phases = list[tuple[int, float]]  # (minutes, error ratio)
EVENTS = 10_000  # requests a minute: every error ratio below is a whole number of errors


def http_series(job: str) -> Callable[[Phases], list[dict[str, str]]]:
    def series(phases: Phases) -> list[dict[str, str]]:
        bad = [(m, round(EVENTS * r)) for m, r in phases]
        good = [(m, EVENTS - round(EVENTS * r)) for m, r in phases]
        name = "http_request_duration_seconds_count"
        return [{"series": f'{name}{{job="{job}",code="200"}}', "values": counter(good)},
                {"series": f'{name}{{job="{job}",code="500"}}', "values": counter(bad)}]
    return series


def apiserver_series(phases: Phases) -> list[dict[str, str]]:
    bad = [(m, round(EVENTS * r)) for m, r in phases]
    good = [(m, EVENTS - round(EVENTS * r)) for m, r in phases]
    # The latency SLO (99 %) has 10x the availability SLO's (99.9 %) budget: 10x the slow
    # requests put it through the same scenario.
    fast = [(m, EVENTS - round(EVENTS * min(1.0, 10 * r))) for m, r in phases]
    return [
        {"series": 'apiserver_request_total{code="200"}', "values": counter(good)},
        {"series": 'apiserver_request_total{code="500"}', "values": counter(bad)},
        {"series": 'apiserver_request_duration_seconds_count{verb="GET"}',
         "values": counter([(m, EVENTS) for m, _ in phases])},
        {"series": 'apiserver_request_duration_seconds_bucket{le="0.4",verb="GET"}',
         "values": counter(fast)},
    ]


def wifi_series(phases: Phases) -> list[dict[str, str]]:
    # The raw SLI: 1 - average satisfaction; two clients with the same satisfaction.
    return [{"series": f'unifipoller_client_satisfaction_ratio{{name="{n}"}}',
             "values": gauge([(m, round(1 - r, 4)) for m, r in phases])} for n in "ab"]


@dataclass(frozen=True)
class Example:
    name: str
    series: Callable[[Phases], list[dict[str, str]]]
    healthy: float  # error ratios: half the lowest ticket threshold,
    slow: float  # between the highest ticket and the lowest page threshold,
    fast: float  # well above the fastest page threshold


BURNS = [
    Example("getting-started.yml", http_series("myservice"), 0.0005, 0.0045, 0.1),
    Example("kubernetes-apiserver.yml", apiserver_series, 0.0005, 0.0045, 0.2),
    Example("raw-home-wifi.yml", wifi_series, 0.025, 0.22, 0.9),
]


def sloth_ids(example: str) -> list[tuple[str, str]]:
    """(sloth_id, alert name) per SLO of an example, from Sloth's own file."""
    found = []
    for group in rule_groups(GEN / example):
        for rule in group["rules"]:
            if rule.get("record") == "sloth_slo_info":
                found.append(rule["labels"]["sloth_id"])
    alerts = [rule["alert"] for group in rule_groups(GEN / example) for rule in group["rules"]
              if "alert" in rule][::2]
    return list(zip(found, alerts, strict=True))


def as_reference(example: str, target: Path) -> Path:
    """Sloth's rules, renamed so that they evaluate beside ours in one promtool run."""
    groups = rule_groups(GEN / example)
    for group in groups:
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\bslo:", "ref:slo:", rule["expr"])
            if "record" in rule:
                rule["record"] = re.sub(r"^(slo:|sloth_)", r"ref:\1", rule["record"])
            else:
                rule["alert"] = "Ref" + rule["alert"]
    target.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return target


def alerts_of(name: str, slo_id: str, tier: Tier) -> str:
    return (f'ALERTS{{alertname="{name}",alertstate="firing",sloth_id="{slo_id}",'
            f'sloth_severity="{tier.value}"}}')


def when(selector: str, length: int, first: bool = True) -> str:
    fn = "min_over_time" if first else "max_over_time"
    return f"scalar({fn}(timestamp({selector})[{length}m:1m]))"


def same_time(slos: list[tuple[str, str]], tier: Tier, length: int, *, first: bool = True,
              within: int = 0) -> list[dict[str, Any]]:
    """Ours and Sloth's alert fire (or stop) at the same evaluation, or within `within` s."""
    checks = []
    for slo_id, name in slos:
        difference = (f"vector({when(alerts_of(name, slo_id, tier), length, first)} - "
                      f"{when(alerts_of('Ref' + name, slo_id, tier), length, first)})")
        expr = f"abs({difference}) <= bool {within}"
        checks.append({"expr": expr, "eval_time": f"{length}m",
                       "exp_samples": [{"labels": "{}", "value": 1}]})
    return checks


def never(slos: list[tuple[str, str]], tier: Tier, length: int) -> list[dict[str, Any]]:
    names = "|".join(f"{prefix}{name}" for _, name in slos for prefix in ("", "Ref"))
    return [{"expr": f'count_over_time(ALERTS{{alertname=~"{names}",'
                     f'sloth_severity="{tier.value}"}}[{length + 1}m])',
             "eval_time": f"{length}m", "exp_samples": []}]


def burn_tests(example: Example) -> list[dict[str, Any]]:
    slos = sloth_ids(example.name)
    warm = 70
    # Long enough for every transition (the slowest page here: 33 minutes into a fast burn).
    fast = [(warm, example.healthy), (60, example.fast)]
    slow = [(warm, example.healthy), (150, example.slow)]
    recovery = [(warm, example.healthy), (60, example.fast), (120, example.healthy)]
    healthy = [(120, example.healthy)]

    def case(name: str, phases: Phases, checks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"name": f"{example.name}: {name}", "interval": "1m",
                "input_series": example.series(phases), "promql_expr_test": checks}

    def total(phases: Phases) -> int:
        return sum(m for m, _ in phases) - 1

    return [
        case("fast burn: pages at the same evaluation, tickets within 5 minutes", fast,
             same_time(slos, Tier.PAGE, total(fast))
             + same_time(slos, Tier.TICKET, total(fast), within=300)),
        case("slow burn: tickets within 5 minutes, never pages", slow,
             same_time(slos, Tier.TICKET, total(slow), within=300)
             + never(slos, Tier.PAGE, total(slow))),
        case("healthy: nothing fires", healthy,
             never(slos, Tier.PAGE, total(healthy)) + never(slos, Tier.TICKET, total(healthy))),
        case("recovery: the page starts and clears at the same evaluations", recovery,
             same_time(slos, Tier.PAGE, total(recovery))
             + same_time(slos, Tier.PAGE, total(recovery), first=False)),
    ]


def group_order(paths: Iterable[Path]) -> list[str]:
    """SLI groups, then metadata, then alerts: evaluated in that order at each timestamp
    (promtool orders groups it is not told about at random)."""
    names = list(dict.fromkeys(g["name"] for path in paths for g in rule_groups(path)))

    def rank(name: str) -> int:
        return 2 if name.startswith("sloth-slo-alerts-") else \
            1 if name.startswith("sloth-slo-meta-") else 0

    return sorted(names, key=rank)


def run_promtool(promtool: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "test", "rules", *map(str, files)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_burn_scenarios_fire_when_sloths_own_rules_fire(promtool: str, tmp_path: Path) -> None:
    files = []
    for example in BURNS:
        mine = ours(example.name, tmp_path)
        reference = as_reference(example.name, tmp_path / f"ref-{example.name}")
        test = tmp_path / f"test-{example.name}"
        test.write_text(yaml.safe_dump({
            "rule_files": [mine.name, reference.name],
            "evaluation_interval": "1m",
            "group_eval_order": group_order([mine]),
            "tests": burn_tests(example),
        }, sort_keys=False))
        files.append(test)
    proc = run_promtool(promtool, files)  # one process for every scenario
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.count("SUCCESS") == len(files)


# ------------------------------------------------------------ outage and mid-burn


OUTAGE_SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: myservice
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
  indicator:
    metadata: {name: good-requests}
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Prometheus
            spec:
              query: >-
                sum(rate(http_request_duration_seconds_count{job="myservice",code!~"(5..|429)"}[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
"""


@pytest.mark.slow
def test_a_total_outage_is_100_percent_errors_and_pages(promtool: str, tmp_path: Path) -> None:
    """Only error responses exist: the good series is absent. Sloth's OpenSLO rules divide an
    absent good by total and see nothing (no alert, ever); ours see 100 % errors and page."""
    spec = tmp_path / "outage.yaml"
    spec.write_text(OUTAGE_SPEC)
    for_sloth = tmp_path / "outage-sloth.yaml"
    for_sloth.write_text((SLOTH / "openslo-getting-started.yml").read_text())
    mine, sloth_style = tmp_path / "outage-rules.yml", tmp_path / "outage-v1alpha.yml"
    mine.write_text(render(generate(load_specs([spec]))))
    sloth_style.write_text(render(generate(load_specs([for_sloth]))))
    errors_only = [{"series": 'http_request_duration_seconds_count{job="myservice",code="503"}',
                    "values": counter([(40, 500)])}]
    reference = as_reference("openslo-getting-started.yml", tmp_path / "ref-outage.yml")
    sloth_ratio = 'slo:sli_error:ratio_rate5m{sloth_id="my-service-sloth-slo-my-service-0"}'
    tests = {
        "rule_files": [mine.name, sloth_style.name, reference.name],
        "evaluation_interval": "1m",
        "group_eval_order": group_order([mine, sloth_style]),
        "tests": [{
            "name": "only error responses: 100 % errors, the fast burn pages",
            "interval": "1m",
            "input_series": errors_only,
            "promql_expr_test": [
                {"expr": 'count by (mapguard_window_pair) (ALERTS{alertname='
                         '"MyserviceAvailabilityPage",alertstate="firing"})',
                 "eval_time": "20m",
                 "exp_samples": [{"labels": f'{{mapguard_window_pair="{pair}"}}', "value": 1}
                                 for pair in ("1h/5m", "6h/30m")]},
                {"expr": 'slo:sli_error:ratio_rate5m{mapguard_slo_id="myservice-availability"}',
                 "eval_time": "20m",
                 "exp_samples": [{"labels": 'slo:sli_error:ratio_rate5m{mapguard_service='
                                  '"myservice",mapguard_slo="availability",mapguard_slo_id='
                                  '"myservice-availability"}', "value": 1}]},
                # Sloth's OpenSLO reading, kept identical in names, also reads 100 %...
                {"expr": sloth_ratio, "eval_time": "20m",
                 "exp_samples": [{"labels": sloth_ratio.replace("}", ',sloth_service='
                                  '"my-service",sloth_slo="sloth-slo-my-service-0",'
                                  'sloth_window="5m"}'), "value": 1}]},
                # ...where Sloth's own rules read nothing at all.
                {"expr": "ref:" + sloth_ratio, "eval_time": "20m", "exp_samples": []},
            ],
        }],
    }
    test = tmp_path / "outage.test.yml"
    test.write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = run_promtool(promtool, [test])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


DEPLOY = 3 * 1440  # minutes of history before the rules are first evaluated
BEFORE_1D_RULE = re.compile(
    r"(- record: slo:sli_error:ratio_rate1d\n    expr: )\|-\n(?:      .*\n)+?(?=    labels:)"
)


def mid_burn_tests(example: Example, slos: list[tuple[str, str]]) -> dict[str, Any]:
    """Rules deployed `DEPLOY` minutes into the data: evaluation_interval = DEPLOY makes the
    evaluation at DEPLOY the first one that sees any data (the one at 0 has a single sample)."""
    healthy, burn = example.healthy, 0.004  # 4x the 99.9 % budget: above the 3x ticket
    (slo_id, name), = slos

    def ticket(firing: bool) -> dict[str, Any]:
        """Ours and Sloth's ticket: both firing, or neither."""
        return {"expr": f'count(ALERTS{{alertname=~"{name}|Ref{name}",sloth_id="{slo_id}",'
                        f'sloth_severity="ticket",alertstate="firing"}})',
                "eval_time": f"{DEPLOY}m",
                "exp_samples": [{"labels": "{}", "value": 2}] if firing else []}

    def window_is(phases: Phases, minutes: int, window: str) -> dict[str, Any]:
        assert sum(m for m, _ in phases) == DEPLOY
        covered, errors, remaining = 0, 0.0, minutes
        for length, ratio in reversed(phases):
            take = min(length, remaining)
            errors += take * ratio
            covered += take
            remaining -= take
        expected = errors / covered
        return {"expr": f'abs(slo:sli_error:ratio_rate{window}{{sloth_id="{slo_id}"}} / '
                        f'{expected!r} - 1) < bool 0.001',
                "eval_time": f"{DEPLOY}m",
                "exp_samples": [{"labels": f'{{sloth_id="{slo_id}",sloth_service="myservice",'
                                 f'sloth_slo="requests-availability",sloth_window="{window}",'
                                 'cmd="examplesgen.sh",owner="myteam",repo="myorg/myservice",'
                                 'tier="2"}', "value": 1}]}

    started_3h = [(DEPLOY - 180, healthy), (180, burn)]
    started_26h = [(DEPLOY - 1560, healthy), (1560, burn)]
    return {
        "tests": [
            {"name": "burn started 3h before the deployment: no ticket yet (1d holds 3h of "
                     "burn), and none from Sloth's rules either",
             "interval": "1m", "input_series": example.series(started_3h),
             "promql_expr_test": [ticket(False), window_is(started_3h, 1440, "1d"),
                                  window_is(started_3h, 4320, "3d")]},
            {"name": "burn started 26h before the deployment: the ticket fires at the first "
                     "evaluation, as Sloth's does",
             "interval": "1m", "input_series": example.series(started_26h),
             "promql_expr_test": [ticket(True), window_is(started_26h, 1440, "1d")]},
        ],
    }


@pytest.mark.slow
def test_rules_deployed_mid_burn_read_the_long_windows_from_history(
    promtool: str, tmp_path: Path
) -> None:
    example = BURNS[0]
    slos = sloth_ids(example.name)
    mine = ours(example.name, tmp_path)
    reference = as_reference(example.name, tmp_path / f"ref-{example.name}")
    document = {"rule_files": [mine.name, reference.name],
                "evaluation_interval": f"{DEPLOY}m",
                "group_eval_order": group_order([mine]),
                **mid_burn_tests(example, slos)}
    test = tmp_path / "mid-burn.test.yml"
    test.write_text(yaml.safe_dump(document, sort_keys=False))
    # The 1d window built from recorded 5m rates (the old way) holds only what was recorded
    # since the deployment: the same scenarios must catch it.
    old = tmp_path / "old" / mine.name
    old.parent.mkdir()
    selector = '{sloth_id="myservice-requests-availability"}'
    old.write_text(BEFORE_1D_RULE.sub(
        lambda m: m.group(1) + f"sum_over_time(slo:sli_error_events:rate5m{selector}[1d]) / "
        f"sum_over_time(slo:sli_total_events:rate5m{selector}[1d])\n",
        mine.read_text(), count=1))
    assert old.read_text() != mine.read_text()
    (old.parent / reference.name).write_text(reference.read_text())
    (old.parent / test.name).write_text(test.read_text())
    proc = run_promtool(promtool, [test])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    broken = run_promtool(promtool, [old.parent / test.name])
    assert broken.returncode == 1
    assert 'sloth_window="1d"' in broken.stdout + broken.stderr  # its 1d ratio is wrong


# ------------------------------------------------------------------------ OpenSLO


OPENSLO_EXAMPLES = sorted(OPENSLO.rglob("*.yaml"))


@pytest.mark.slow
def test_every_openslo_example_validates_and_its_rules_pass_promtool(
    capsys: Capsys, promtool: str, tmp_path: Path
) -> None:
    written = []
    for index, example in enumerate(OPENSLO_EXAMPLES):
        assert main(["slo", "validate", str(example)]) == 0, capsys.readouterr().err
        assert "promtool check rules: ok" in capsys.readouterr().out
        target = tmp_path / f"{index}.yml"
        assert main(["slo", "generate", str(example), "-o", str(target), "--no-check"]) == 0
        written.append(target)
    capsys.readouterr()
    proc = subprocess.run([promtool, "check", "rules", *map(str, written)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_openslo_examples_map_as_documented() -> None:
    loaded = {p.name + p.parent.name: load_specs([p]) for p in OPENSLO_EXAMPLES}
    threshold = loaded["occurences-slo.yamlbudgeting-method"].slos[0]
    assert "(Any) >= 500" in threshold.sli.error_query  # type: ignore[union-attr]
    sla, = loaded["timeslices-slo.yamltreat-low-traffic-as-equally-important"].slos
    assert sla.calendar_start == 1641056400  # 2022-01-01 12:00 in New York
    assert "<= bool 0.95" in sla.sli.error_ratio_query  # op gt: a slice at 95 % is bad
    ratio, = loaded["ratio-timeslices.yamlbudgeting-method"].slos
    assert ">= 0)[{{.window}}:1m]" in ratio.sli.error_ratio_query  # type: ignore[union-attr]
