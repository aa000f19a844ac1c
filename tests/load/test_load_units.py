"""The pure parts of `mapguard load`: plans, the engine's lines, step figures, SLO verdicts,
and the command line's answers to bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.errors import InputError, UsageError
from mapguard.load.intervals import EngineRun, Interval, parse_line
from mapguard.load.plan import (
    MAX_REQUESTS,
    LoadPlan,
    Step,
    build_steps,
    parse_header,
    parse_rates,
    parse_seconds,
    read_bodies,
    read_body,
)
from mapguard.load.results import histogram_of, make_step, step_results, summarize, window_step
from mapguard.load.slo_verdict import judge, objectives
from mapguard.slo.spec import load_specs

SPEC = Path(__file__).parent.parent / "chaos" / "latency.slo.yaml"


def test_rates() -> None:
    assert parse_rates("2000") == (2000.0,)
    assert parse_rates("500:2000:500") == (500.0, 1000.0, 1500.0, 2000.0)
    assert parse_rates("100,300") == (100.0, 300.0)
    for bad in ("0", "-5", "fast", "5:1:1", "1:5:0", "2000000"):
        with pytest.raises(UsageError, match="--rate"):
            parse_rates(bad)


def test_durations() -> None:
    assert parse_seconds("60s", "--duration") == 60
    assert parse_seconds("1m30s", "--duration") == 90
    assert parse_seconds("500ms", "--duration") == 0.5
    with pytest.raises(UsageError, match="--step '20 s'"):
        parse_seconds("20 s", "--step")


def test_steps_are_bounded() -> None:
    steps = build_steps((100.0, 200.0), step_s=2, duration_s=None, warmup_s=1)
    assert [(s.rate, s.seconds, s.warmup) for s in steps] == [
        (100, 1, True), (100, 2, False), (200, 2, False)]
    assert build_steps((100.0, 200.0), step_s=None, duration_s=8, warmup_s=0)[1].seconds == 4
    with pytest.raises(UsageError, match="bounded in time"):
        build_steps((100.0,), step_s=None, duration_s=None, warmup_s=0)
    with pytest.raises(UsageError, match="does not match"):
        build_steps((100.0, 200.0), step_s=2, duration_s=5, warmup_s=0)
    with pytest.raises(UsageError, match="at most 3,600s"):
        build_steps((1.0,), step_s=None, duration_s=7200, warmup_s=0)
    with pytest.raises(UsageError, match=f"at most {MAX_REQUESTS:,}"):
        build_steps((900_000.0,), step_s=None, duration_s=60, warmup_s=0)


def test_headers() -> None:
    assert parse_header("X-Tenant:  acme ") == ("X-Tenant", "acme")
    with pytest.raises(UsageError):
        parse_header("no colon")


def test_bodies(tmp_path: Path) -> None:
    assert read_body('{"a": 1}') == '{"a": 1}'
    one = tmp_path / "req.json"
    one.write_text('{"tenant": "t"}\n')
    assert read_body(f"@{one}") == '{"tenant": "t"}\n'
    many = tmp_path / "reqs.jsonl"
    many.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_bodies(many) == ('{"a": 1}', '{"a": 2}')


@pytest.mark.parametrize("option", ["--body", "--bodies", "--slo"])
@pytest.mark.parametrize("problem", ["missing", "directory", "not-utf8"])
def test_bad_files_are_one_line_and_exit_2(option: str, problem: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = {"missing": tmp_path / "nowhere" / "file", "directory": tmp_path,
            "not-utf8": tmp_path / "latin1.txt"}[problem]
    if problem == "not-utf8":
        path.write_bytes(b"caf\xe9\n")
    value = f"@{path}" if option == "--body" else str(path)
    args = ["load", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1s", option, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err


@pytest.mark.parametrize("args", [
    ["--rate", "0", "--duration", "1s"],
    ["--rate", "10"],
    ["--rate", "10", "--duration", "1s", "--body", "x", "--bodies", "f"],
    ["--rate", "10", "--duration", "1s", "--header", "bad"],
    ["--rate", "10", "--duration", "2h"],
])
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "http://127.0.0.1:9/", *args]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_not_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "ftp://x/", "--rate", "1", "--duration", "1s"]) == 2
    assert "http://" in capsys.readouterr().err


# --- the engine's lines and the step figures -------------------------------------------------


def _interval(index: int, step: int, latency: list[list[int]], *, scheduled: int = 100,
              sent: int = 100, errors: dict[str, int] | None = None, queued: int = 0,
              warmup: bool = False, max_in_flight: int = 3) -> Interval:
    line = json.dumps({
        "type": "interval", "index": index, "step": step, "warmup": warmup,
        "start_ns": index * 10**9, "end_ns": (index + 1) * 10**9, "scheduled": scheduled,
        "sent": sent, "answered": sum(c for _, c in latency), "queued": queued,
        "errors": errors or {}, "max_in_flight": max_in_flight, "latency_us": latency,
        "service_us": latency, "lag_us": [[100, sent]]})
    record = parse_line(line)
    assert isinstance(record, Interval)
    return record


def test_engine_lines_are_checked() -> None:
    for bad in ("not json", "[]", '{"type": "nope"}', '{"type": "interval", "index": 1}',
                '{"type": "start", "unix_ns": "x"}'):
        with pytest.raises(InputError, match="load engine output"):
            parse_line(bad)


def test_percentiles_from_hdr_buckets() -> None:
    # 98 answers at 1 ms, 2 at 400 ms: p50 1 ms, p99 400 ms (to HDR's 3 significant digits).
    summary = summarize(histogram_of([((1000, 98), (400_000, 2))]))
    assert summary is not None and summary.count == 100
    assert summary.at(50.0) == pytest.approx(1.0, rel=1e-3)
    assert summary.at(99.0) == pytest.approx(400.0, rel=1e-3)
    assert summary.max_ms == pytest.approx(400.0, rel=1e-3)


def test_steps_leave_out_the_warmup_and_say_how_far_behind() -> None:
    plan = LoadPlan("http://x/", "GET", (Step(100, 1, warmup=True), Step(100, 2)))
    run = EngineRun()
    run.add(_interval(0, 0, [[99_000, 100]], warmup=True))  # a slow warm-up: left out
    run.add(_interval(1, 1, [[1000, 100]]))
    run.add(_interval(2, 1, [[1000, 90]], sent=90, errors={"not sent": 10}))
    (step,) = step_results(plan, run).steps
    assert step.scheduled == 200 and step.sent == 190 and step.behind == pytest.approx(0.05)
    assert not step.held and step.generator_bound  # 3 of 512 connections busy: the generator
    assert step.latency is None
    assert "fell behind by 5.0% (the generator" in step.rate_verdict


def test_behind_with_busy_connections_is_the_service() -> None:
    step = make_step(1, Step(100, 1), [_interval(0, 0, [[1000, 80]], sent=80, queued=20,
                                                 max_in_flight=8)],
                     max_connections=8, complete=True)
    assert not step.held and not step.generator_bound and step.latency is not None
    assert "the service did not keep up" in step.rate_verdict


def test_window_takes_whole_intervals_only() -> None:
    intervals = [_interval(i, 0, [[1000 * (i + 1), 100]]) for i in range(5)]
    step = window_step(1, intervals, int(0.5e9), int(3.2e9), 512)
    assert step is not None
    assert [i.index for i in step.intervals] == [1, 2]
    assert step.step.rate == 100
    assert window_step(2, intervals, int(0.2e9), int(0.9e9), 512) is None


def test_slo_verdicts() -> None:
    found, skipped = objectives(load_specs([SPEC]))
    assert skipped == ()
    latency, availability = sorted(found, key=lambda o: o.kind, reverse=True)
    assert latency.kind == "latency" and latency.threshold_s == 0.05
    assert latency.slo.objective == Decimal(99)
    # 1,000 planned: 970 under 50 ms, 20 slower, 5 answered 503 fast, 5 timed out.
    step = make_step(1, Step(1000, 1), [_interval(0, 0, [[20_000, 975], [80_000, 20]],
                                                  scheduled=1000, sent=1000,
                                                  errors={"status 503": 5, "timeout": 5})],
                     512, True)
    slow = judge(latency, step)
    assert slow.bad == 25 and slow.held is False
    assert slow.burn_rate == pytest.approx(0.025 / 0.01)
    # Burn 2.5: above the 3d/6h ticket's factor (0.93), below the 1d/2h one's (2.8).
    assert slow.alerts == ("StallserverLatencyTicket (3d/6h, burn >= 0.933333)",)
    failing = judge(availability, step)
    assert failing.bad == 10 and failing.burn_rate == pytest.approx(0.01 / 0.001)
    assert failing.held is False and any("Page" in a for a in failing.alerts)


def test_a_request_the_step_ended_before_sending_is_left_out_of_availability() -> None:
    """It never reached the service (a counter in front of it would not count it), so it is
    neither good nor bad for availability; it is bad for latency, answered within no threshold.
    Two not sent out of 400 keep the rate held, so the step is judged."""
    latency, availability = sorted(objectives(load_specs([SPEC]))[0], key=lambda o: o.kind,
                                   reverse=True)
    # 398 sent and answered in 20 ms, one of them with a 503; 2 not sent.
    step = make_step(1, Step(400, 1), [_interval(0, 0, [[20_000, 398]], scheduled=400, sent=398,
                                                 errors={"not sent": 2, "status 503": 1})],
                     512, True)
    assert step.held and not step.generator_bound
    served = judge(availability, step)
    assert (served.total, served.bad) == (398, 1)
    assert served.burn_rate == pytest.approx((1 / 398) / 0.001)
    waited = judge(latency, step)
    assert (waited.total, waited.bad) == (400, 2)


def test_a_latency_slo_written_as_events_is_read_as_latency(tmp_path: Path) -> None:
    spec = tmp_path / "sloth.yaml"
    count = "sum(rate(http_request_duration_seconds_count[{{.window}}]))"
    fast = 'sum(rate(http_request_duration_seconds_bucket{le="0.25"}[{{.window}}]))'
    spec.write_text(f"""version: prometheus/v1
service: api
slos:
  - name: requests-latency
    objective: 99
    sli:
      events:
        error_query: {count} - {fast}
        total_query: {count}
    alerting:
      name: ApiLatency
      page_alert:
        disable: true
      ticket_alert:
        disable: true
""", encoding="utf-8")
    (objective,), _ = objectives(load_specs([spec]))
    assert objective.kind == "latency" and objective.threshold_s == 0.25


def test_a_step_the_generator_could_not_load_is_not_judged() -> None:
    """Requests the generator never sent are its failure, not the service's."""
    found, _ = objectives(load_specs([SPEC]))
    step = make_step(1, Step(100, 1), [_interval(0, 0, [[1000, 80]], sent=80,
                                                 errors={"not sent": 20})], 512, True)
    assert step.generator_bound
    for objective in found:
        verdict = judge(objective, step)
        assert verdict.bad is None and verdict.held is None and verdict.burn_rate is None
