"""The configuration file and the flags that override it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mapguard.errors import UsageError
from mapguard.watch.config import (
    Listen,
    Overrides,
    Shard,
    apply_overrides,
    load_config,
    parse_size,
)
from mapguard.watch.targets import static_target


def test_a_full_configuration_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "watch.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""\
        listen: "[::1]:9999"
        interval: 30s
        timeout: 5s
        max_backoff: 5m
        top_sites: 7
        shard: 2/3
        source: ../src
        max_response_bytes: 2MiB
        max_profile_bytes: 1048576
        http: {bearer_token_file: token}
        targets:
          - url: http://10.0.0.5:6060/debug/pprof/
            name: riskd
          - url: https://10.0.0.6:8443
            metrics_url: ""
            http: {basic_auth: {username: w, password_file: /etc/pw},
                   tls: {ca_file: ca.pem}}
        file_sd: [{files: ["sd/*.json"]}]
        http_sd: [{url: "http://sd:8080/targets", refresh_interval: 2m}]
    """))
    config = load_config(path)
    assert str(config.listen) == "[::1]:9999" and config.interval_seconds == 30
    assert (config.timeout_seconds, config.max_backoff_seconds) == (5.0, 300.0)
    assert config.top_sites == 7 and config.shard == Shard(2, 3)
    assert config.limits.max_response_bytes == 2 << 20
    riskd, other = config.targets
    assert riskd.name == "riskd" and riskd.base_url == "http://10.0.0.5:6060"
    assert riskd.allocs_url == "http://10.0.0.5:6060/debug/pprof/allocs"
    assert riskd.source == path.parent / "../src"
    assert riskd.client.bearer_token_file == path.parent / "token"
    assert other.metrics_url is None and other.name == "10.0.0.6:8443"
    assert other.client.basic_auth is not None
    assert other.client.basic_auth.password_file == Path("/etc/pw")
    assert other.client.tls is not None and other.client.tls.ca_file == path.parent / "ca.pem"
    assert config.file_sd[0].patterns == (str(path.parent / "sd/*.json"),)
    assert config.http_sd[0].refresh_seconds == 120


def test_flags_override_and_add(tmp_path: Path) -> None:
    path = tmp_path / "watch.yaml"
    path.write_text("interval: 30s\ntargets: [{url: 'http://a:1'}]\n")
    config = apply_overrides(load_config(path), Overrides(
        targets=("http://b:2",), source=tmp_path, interval_seconds=5,
        listen=Listen.parse("0.0.0.0:1"), shard=Shard(1, 2)))
    assert [t.name for t in config.targets] == ["a:1", "b:2"]
    assert all(t.source == tmp_path for t in config.targets)
    assert config.interval_seconds == 5 and config.listen.host == "0.0.0.0"
    with pytest.raises(UsageError, match="--target"):
        apply_overrides(config, Overrides(targets=("not a url",)))


@pytest.mark.parametrize(("text", "error"), [
    ("3/2", "between 1 and N"), ("a/b", "not a shard"), ("2", "not a shard")])
def test_shard_syntax(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Shard.parse(text)


def test_sizes_and_urls() -> None:
    assert parse_size("512KiB") == 512 << 10 and parse_size(10) == 10
    with pytest.raises(ValueError):
        parse_size("-1")
    for url, problem in (("http://x:1?a=b", "no query"), ("http://x:99999", "bad port"),
                         ("http://u@x:1", "credentials"), ("x:1", "not an http")):
        with pytest.raises(ValueError, match=problem):
            static_target(url)


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    """docs/watch.md's example is a configuration the agent takes as it is."""
    docs = (Path(__file__).parents[2] / "docs" / "watch.md").read_text()
    example = docs.split("## Configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "watch.yaml"
    path.write_text(example)
    config = load_config(path)
    assert str(config.listen) == "127.0.0.1:9464" and config.interval_seconds == 15
    assert config.top_sites == 20 and config.shard == Shard(1, 1)
    (riskd,) = config.targets
    assert riskd.name == "riskd" and riskd.source == tmp_path / "../riskd"
    assert riskd.metrics_url == "http://10.0.0.5:9100/metrics"
    assert config.file_sd[0].patterns == (str(tmp_path / "targets/*.json"),)
    assert config.http_sd[0].refresh_seconds == 60
