"""The report's own filter: text stays escaped, and may wrap only at path and name separators."""

from __future__ import annotations

from mapguard.report.render import breakable


def test_breakable_escapes_and_breaks_only_after_separators() -> None:
    assert str(breakable("/usr/local/go/src/net/http/server.go:1048")) == \
        "/<wbr>usr/<wbr>local/<wbr>go/<wbr>src/<wbr>net/<wbr>http/<wbr>server.go:1048"
    assert str(breakable("risk.(*Server).handleDecide")) == "risk.(*Server)<wbr>.handleDecide"
    assert str(breakable("<script>x</script>")) == "&lt;script&gt;x&lt;/<wbr>script&gt;"
