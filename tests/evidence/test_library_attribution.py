"""One attribution model for both heap formats: a real HTTP service whose handler reads the
query (`r.URL.Query()`: a url.Values map built in net/url) and writes headers (http.Header
growth in net/textproto). Its protobuf profile (runtime frames dropped) and its debug=1 text
symbolised with the binary (runtime frames kept) are one snapshot: they must give the same map
total, charged to the handler's lines with the library frame as the mechanism."""

from __future__ import annotations

import fcntl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from mapguard.evidence.attribution import Attribution, attribute_profile
from mapguard.evidence.symbolize import symbolize
from mapguard.formats.pprof import parse_profile
from mapguard.gotool import GoToolchain, run_go

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "profiles" / "httpmaps"
REQUESTS = "200"


@dataclass(frozen=True)
class Profiles:
    proto: Attribution
    text: Attribution


@pytest.fixture(scope="session")
def profiles(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Profiles:
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if root.name.startswith("popen-gw") else root
    out = shared / "httpmaps"
    binary = out / "httpmaps"
    with (shared / "httpmaps.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "allocs.txt").exists():
            out.mkdir(parents=True, exist_ok=True)
            built = run_go(["build", "-o", str(binary), "."], cwd=FIXTURE, timeout=600)
            assert built.returncode == 0, built.stderr
            ran = subprocess.run([str(binary), str(out), REQUESTS], capture_output=True,
                                 text=True, timeout=300, check=False)
            assert ran.returncode == 0, ran.stderr
    proto = parse_profile((out / "allocs.pb.gz").read_bytes(), "allocs.pb.gz")
    text = symbolize(parse_profile((out / "allocs.txt").read_bytes(), "allocs.txt"), binary)
    return Profiles(attribute_profile(proto, FIXTURE, sample_index="alloc_space"),
                    attribute_profile(text, FIXTURE, sample_index="alloc_space"))


def _differences(proto: Attribution, text: Attribution) -> str:
    """Where the two formats disagree, site by site: what a failure needs to be understood
    (the run is not repeatable byte for byte)."""
    def by_site(result: Attribution) -> dict[tuple[str, int, str, str], int]:
        found: dict[tuple[str, int, str, str], int] = {}
        for cost in result.sites:
            key = (cost.site.file, cost.site.line, cost.op,
                   cost.via.function or "" if cost.via else "")
            found[key] = found.get(key, 0) + cost.value
        return found
    protos, texts = by_site(proto), by_site(text)
    rows = [f"{key}: protobuf {protos.get(key, 0)}, text {texts.get(key, 0)}"
            for key in sorted(set(protos) | set(texts))
            if protos.get(key, 0) != texts.get(key, 0)]
    return "\n".join([*rows, *proto.notes, *text.notes])


def _want(tag: str) -> set[int]:
    lines = (FIXTURE / "main.go").read_text().splitlines()
    return {n for n, line in enumerate(lines, 1) if f"// want: {tag}" in line}


def _handler(result: Attribution, lines: set[int], via_package: str) -> int:
    return sum(cost.value for cost in result.sites
               if cost.site.function == "main.handle" and cost.site.line in lines
               and cost.via is not None and (cost.via.function or "").startswith(via_package))


def test_protobuf_and_symbolised_text_give_the_same_map_total(profiles: Profiles) -> None:
    proto, text = profiles.proto, profiles.text
    assert proto.total == text.total
    # What the protobuf cannot split stays visible as unattributed, never guessed.
    assert abs(proto.map_total - text.map_total) <= proto.unattributed + text.unattributed, \
        _differences(proto, text)
    assert abs(proto.map_total - text.map_total) <= 0.01 * text.map_total
    for op in ("create", "grow"):
        assert abs(proto.by_op[op] - text.by_op[op]) <= 0.01 * text.by_op[op], op
    assert proto.map_total > 0.3 * proto.total  # the service's map work is most of it


def test_library_map_work_is_charged_to_the_handler_lines(profiles: Profiles) -> None:
    for result in (profiles.proto, profiles.text):
        query = _handler(result, _want("query"), "net/url.")
        header = _handler(result, _want("header"), "net/textproto.")
        assert query > 0 and header > 0
    assert _handler(profiles.proto, _want("query"), "net/url.") == _handler(
        profiles.text, _want("query"), "net/url.")
    assert _handler(profiles.proto, _want("header"), "net/textproto.") == _handler(
        profiles.text, _want("header"), "net/textproto.")


def test_cost_without_a_user_frame_goes_to_the_first_frame_that_is_not_runtime(
        profiles: Profiles) -> None:
    for result in (profiles.proto, profiles.text):
        functions = {cost.site.function or "" for cost in result.sites}
        assert not [f for f in functions if f.startswith(("runtime.", "internal/runtime/"))]
        # Request headers are parsed by the server before any handler runs.
        assert "net/textproto.readMIMEHeader" in functions
