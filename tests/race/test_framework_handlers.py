"""MG004's web-framework handlers, proved by the race detector with the frameworks themselves.

gin and echo serve through net/http, so two requests run their handlers at once: a handler that
writes a package-level map races; so does a negroni middleware's `ServeHTTP(w, r, next)`, which
negroni calls for every request. This module builds a service on the real gin, echo and negroni
(the one test of the suite that takes modules from the Go module proxy: the corpus must build
offline), sends it concurrent requests under `go test -race`, and checks that MG004 reports
exactly the four writes (a gin func literal, a gin method registered as a handler, an echo
function, a negroni middleware) and that the detector names each of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, run_go
from tests.realparts import missing_real_part

pytestmark = pytest.mark.slow

# Versions the module proxy served on 2026-12-06 (gin 1.12 needs Go 1.24).
MODULES = {"github.com/gin-gonic/gin": "v1.12.0", "github.com/labstack/echo/v4": "v4.16.5",
           "github.com/urfave/negroni/v3": "v3.1.1"}

SERVICE = """
package shop

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"github.com/urfave/negroni/v3"
)

var (
	views = map[string]int{}
	carts = map[string][]string{}
	likes = map[string]bool{}
	hits  = map[string]int{}
)

type API struct{}

func Routes(r *gin.Engine, e *echo.Echo, a *API) {
	r.GET("/view/:id", func(c *gin.Context) {
		views[c.Param("id")]++ // MG004
		c.Status(http.StatusNoContent)
	})
	r.POST("/cart/:id", a.add)
	e.POST("/like/:id", like)
}

func (a *API) add(c *gin.Context) {
	carts[c.Param("id")] = append(carts[c.Param("id")], c.Query("item")) // MG004
	c.Status(http.StatusNoContent)
}

func like(c echo.Context) error {
	likes[c.Param("id")] = true // MG004
	return c.NoContent(http.StatusNoContent)
}

type Counter struct{}

func (Counter) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	hits[r.URL.Path]++ // MG004
	next(w, r)
}

func Counted(h http.Handler) *negroni.Negroni {
	n := negroni.New(Counter{})
	n.UseHandler(h)
	return n
}
"""

DRIVER = """
package shop

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
)

// hammer sends requests from eight goroutines released together: the detector sees a race
// only when two accesses really overlap in time, and remembers one race per location.
func hammer(server http.Handler, method, path string) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 8; g++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			for i := 0; i < 100; i++ {
				request := httptest.NewRequest(method, fmt.Sprintf(path, g*100+i), nil)
				server.ServeHTTP(httptest.NewRecorder(), request)
			}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

func servers() (*gin.Engine, *echo.Echo) {
	gin.SetMode(gin.ReleaseMode)
	r, e := gin.New(), echo.New()
	Routes(r, e, &API{})
	return r, e
}

func TestRaceGinLiteral(t *testing.T) {
	r, _ := servers()
	hammer(r, "GET", "/view/%d")
}

func TestRaceGinMethod(t *testing.T) {
	r, _ := servers()
	hammer(r, "POST", "/cart/%d?item=x")
}

func TestRaceEchoFunction(t *testing.T) {
	_, e := servers()
	hammer(e, "POST", "/like/%d")
}

func TestRaceNegroniMiddleware(t *testing.T) {
	hammer(Counted(http.NotFoundHandler()), "GET", "/hit/%d")
}
"""


def _module(root: Path, go_toolchain: GoToolchain) -> Path:
    (root / "go.mod").write_text("module example.com/shop\n\ngo 1.24\n")
    (root / "shop.go").write_text(textwrap.dedent(SERVICE).lstrip())
    (root / "shop_test.go").write_text(textwrap.dedent(DRIVER).lstrip())
    online = {"GOPROXY": "https://proxy.golang.org", "GOFLAGS": "-mod=mod"}
    for module, version in MODULES.items():
        got = run_go(["get", f"{module}@{version}"], cwd=root, env=online,
                     toolchain=go_toolchain, timeout=300)
        if got.returncode != 0:
            missing_real_part(f"the Go module proxy did not serve {module}@{version}: "
                              + got.stderr.strip().splitlines()[-1])
    return root


def test_mg004_and_the_race_detector_agree_on_gin_echo_and_negroni_handlers(
        tmp_path: Path, go_toolchain: GoToolchain, capsys: pytest.CaptureFixture[str]) -> None:
    root = _module(tmp_path, go_toolchain)
    source = (root / "shop.go").read_text().splitlines()
    marked = {number for number, line in enumerate(source, start=1) if line.endswith("// MG004")}
    assert len(marked) == 4

    status = main(["lint", "--no-cache", "--format", "json", f"{root}/..."])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert status == 1
    assert {(f["rule"], f["line"]) for f in findings} == {("MG004", n) for n in marked}
    messages = " ".join(f["message"] for f in findings)
    assert "a gin handler (gin serves through net/http" in messages
    assert "an echo handler (echo serves through net/http" in messages

    # One process per handler's test: the detector stops watching what it has reported, and
    # in one process a report on one map hid the next handler's (a run named 2 of the 3).
    build = run_go(["test", "-race", "-c", "-o", str(root / "shop.test"), "."], cwd=root,
                   toolchain=go_toolchain, timeout=600)
    assert build.returncode == 0, build.stderr
    named: set[int] = set()
    for test in ("TestRaceGinLiteral", "TestRaceGinMethod", "TestRaceEchoFunction",
                 "TestRaceNegroniMiddleware"):
        run = subprocess.run(
            [str(root / "shop.test"), "-test.run", f"^{test}$", "-test.count=1"],
            cwd=root, capture_output=True, text=True, timeout=300,
            env={**os.environ, "GOMAXPROCS": "4",
                 "GORACE": "halt_on_error=0 suppress_equal_addresses=0 history_size=4"})
        report = run.stdout + run.stderr  # the detector writes to stderr
        assert "WARNING: DATA RACE" in report, (test, report)
        named |= {int(line) for line in re.findall(r"shop\.go:(\d+)", report)}
    assert marked <= named, (sorted(marked), sorted(named))
