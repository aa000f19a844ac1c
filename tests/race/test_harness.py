"""The race harness itself: output parsing (fast) and one end-to-end run over a scratch module."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain

from .harness import (
    DRIVER_NAME,
    RaceTarget,
    Verdict,
    classify,
    driver_package,
    reported_locations,
    run_race,
)

PKG = Path("/src/mod/shop")

RACE_OUTPUT = f"""=== RUN   TestRaceHits
==================
WARNING: DATA RACE
Write at 0x00c000118120 by goroutine 8:
  runtime.mapassign_faststr()
      /go/src/internal/runtime/maps/runtime_faststr.go:261 +0x0
  example.com/mod/shop.handle()
      {PKG}/shop.go:12 +0x2d9
  example.com/mod/shop.TestRaceHits.func1()
      {PKG}/{DRIVER_NAME}:9 +0x44

Previous read at 0x00c000118120 by goroutine 7:
  example.com/mod/shop.report()
      {PKG}/report.go:30 +0x1a
  example.com/mod/other.Use()
      /src/mod/other/other.go:5 +0x1a
==================
    testing.go:1867: race detected during execution of test
--- FAIL: TestRaceHits (0.00s)
FAIL
"""

FATAL_OUTPUT = f"""=== RUN   TestRaceHits
fatal error: concurrent map writes

goroutine 9 [running]:
internal/runtime/maps.fatal({{0x5a0f8e?, 0x0?}})
      /go/src/runtime/panic.go:1181 +0x18
example.com/mod/shop.handle(...)
      {PKG}/shop.go:13 +0x2d9
exit status 2
"""


def test_classify_race_fatal_clean_and_failure() -> None:
    assert classify(RACE_OUTPUT, 1) is Verdict.RACE
    assert classify(FATAL_OUTPUT, 2) is Verdict.FATAL_MAP
    assert classify("fatal error: concurrent map read and map write\n", 2) is Verdict.FATAL_MAP
    assert classify("=== RUN   TestCleanX\n--- PASS: TestCleanX\nPASS\n", 0) is Verdict.CLEAN
    assert classify("panic: assignment to entry in nil map\n", 2) is Verdict.FAILED
    assert classify("", None) is Verdict.FAILED  # killed by a timeout
    assert Verdict.RACE.racy and Verdict.FATAL_MAP.racy
    assert not Verdict.CLEAN.racy and not Verdict.FAILED.racy


def test_locations_are_the_fixture_lines_of_reports_only() -> None:
    assert reported_locations(RACE_OUTPUT, PKG) == {(PKG / "shop.go", 12), (PKG / "report.go", 30)}
    assert reported_locations(FATAL_OUTPUT, PKG) == {(PKG / "shop.go", 13)}
    outside = f"      {PKG}/shop.go:40 +0x1\n"  # a frame that is not part of a report
    assert reported_locations(outside + RACE_OUTPUT, PKG) == reported_locations(RACE_OUTPUT, PKG)


def test_driver_package_reads_the_package_clause(tmp_path: Path) -> None:
    driver = tmp_path / "d_test.go"
    driver.write_text('// Driver.\n\npackage shop\n\nimport "testing"\n', encoding="utf-8")
    assert driver_package(driver) == "shop"


FIXTURE = """package shop

var hits = map[string]int{}

var mu chan struct{} = make(chan struct{}, 1)

func hit(path string) {
	hits[path]++
}

func lockedHit(path string) {
	mu <- struct{}{}
	hits[path]++
	<-mu
}
"""

DRIVER = """package shop

import "testing"

func TestRaceHit(t *testing.T) {
	for round := 0; round < 8; round++ {
		hits = map[string]int{}
		raceHammer(2, func(g int) { hit("/") })
	}
}

func TestCleanLockedHit(t *testing.T) {
	raceHammer(2, func(g int) { lockedHit("/") })
}

func TestPanics(t *testing.T) {
	var m map[string]int
	m["boom"]++
}
"""


@pytest.mark.slow
def test_end_to_end_verdicts_and_fixture_untouched(
    tmp_path: Path, go_toolchain: GoToolchain
) -> None:
    module = tmp_path / "mod"
    (module / "shop").mkdir(parents=True)
    (module / "broken").mkdir()
    (module / "go.mod").write_text("module example.com/mod\n\ngo 1.22\n", encoding="utf-8")
    (module / "shop" / "shop.go").write_text(FIXTURE, encoding="utf-8")
    (module / "broken" / "broken.go").write_text("package broken\n", encoding="utf-8")
    drivers = tmp_path / "drivers"
    drivers.mkdir()
    (drivers / "shop_test.go").write_text(DRIVER, encoding="utf-8")
    (drivers / "broken_test.go").write_text(
        'package broken\n\nimport "testing"\n\nfunc TestX(t *testing.T) { undefinedThing() }\n',
        encoding="utf-8",
    )
    before = {p: p.read_bytes() for p in module.rglob("*") if p.is_file()}

    results = run_race(
        [
            RaceTarget(module / "shop", drivers / "shop_test.go"),
            RaceTarget(module / "broken", drivers / "broken_test.go"),
        ],
        toolchain=go_toolchain,
    )

    shop = {run.test: run for run in results[(module / "shop").resolve()]}
    assert set(shop) == {"TestRaceHit", "TestCleanLockedHit", "TestPanics"}
    assert shop["TestRaceHit"].verdict.racy, shop["TestRaceHit"].output
    assert ((module / "shop" / "shop.go").resolve(), 8) in shop["TestRaceHit"].locations
    assert shop["TestCleanLockedHit"].verdict is Verdict.CLEAN, shop["TestCleanLockedHit"].output
    assert shop["TestPanics"].verdict is Verdict.FAILED
    assert "assignment to entry in nil map" in shop["TestPanics"].output
    (broken,) = results[(module / "broken").resolve()]
    assert broken.verdict is Verdict.BUILD_FAILED
    assert "undefinedThing" in broken.output
    after = {p: p.read_bytes() for p in module.rglob("*") if p.is_file()}
    assert after == before
