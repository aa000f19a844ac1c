"""Targets from static configuration, file_sd and http_sd, split into shards."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from mapguard.errors import InputError
from mapguard.watch.config import FileSD, HttpSD, Shard, WatchConfig
from mapguard.watch.discovery import Discovery, Group, matches, parse_groups, select
from mapguard.watch.fetch import Clients
from mapguard.watch.sharding import hashmod, in_shard
from mapguard.watch.targets import Client, static_target

from .fakes import Behaviour, fake_targets

GROUPS = [{"targets": ["10.0.0.5:6060", "10.0.0.6:6060"], "labels": {"env": "prod"}},
          {"targets": ["api.internal:443"],
           "labels": {"__scheme__": "https", "__metrics_path__": "/internal/metrics",
                      "__pprof_path__": "/admin/pprof", "target": "api"}}]


def test_groups_from_json_and_yaml() -> None:
    from_json = parse_groups(json.dumps(GROUPS).encode(), "t.json")
    from_yaml = parse_groups(b"- targets: ['10.0.0.5:6060', '10.0.0.6:6060']\n"
                             b"  labels: {env: prod}\n", "t.yaml", yaml_text=True)
    assert from_json[0] == from_yaml[0] == Group(("10.0.0.5:6060", "10.0.0.6:6060"),
                                                 {"env": "prod"})
    assert parse_groups(b"", "empty.yaml", yaml_text=True) == ()


@pytest.mark.parametrize(("data", "problem"), [
    (b'{"targets": []}', "not a list of target groups"),
    (b'[{"targets": "a:1"}]', "not a list of HOST:PORT"),
    (b'[{"targets": ["a:1"], "labels": {"x": 1}}]', "map of strings"),
    (b'[{"targets": ["a:1"], "extra": 1}]', "only `targets` and `labels`"),
    (b"[{", "invalid JSON"),
    (b'["\xff"]', "not UTF-8"),
])
def test_bad_groups(data: bytes, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_groups(data, "targets.json")


def test_labels_choose_scheme_paths_and_name() -> None:
    found = select((), [_found(GROUPS)], Shard())[0]
    api = found["api"]
    assert api.allocs_url == "https://api.internal:443/admin/pprof/allocs"
    assert api.metrics_url == "https://api.internal:443/internal/metrics"
    plain = found["10.0.0.5:6060"]
    assert plain.allocs_url == "http://10.0.0.5:6060/debug/pprof/allocs"
    assert plain.metrics_url == "http://10.0.0.5:6060/metrics"


def _found(groups: list[dict[str, object]]) -> object:
    from mapguard.watch.discovery import _Found

    return _Found(parse_groups(json.dumps(groups).encode(), "g.json"), None, Client(), "g.json")


def test_shards_partition_the_fleet_as_hashmod_does() -> None:
    addresses = [f"10.1.{i // 250}.{i % 250}:6060" for i in range(400)]
    found = [_found([{"targets": addresses}])]
    shards = [set(select((), found, Shard(i, 4))[0]) for i in range(1, 5)]  # type: ignore[list-item]
    assert set().union(*shards) == set(addresses)
    assert sum(len(s) for s in shards) == len(addresses)
    assert all(70 < len(s) < 130 for s in shards)  # roughly even
    for index, shard in enumerate(shards):
        assert all(hashmod(a, 4) == index for a in shard)
    assert in_shard("any:1", Shard(1, 1))


def test_bad_addresses_and_duplicate_names_are_reported_not_fatal() -> None:
    static = (static_target("http://10.0.0.5:6060"),)
    chosen, problems = select(static, [_found([  # type: ignore[list-item]
        {"targets": ["10.0.0.5:6060", "http://x:1/path", "10.0.0.7:6060"],
         "labels": {"target": "dup"}}])], Shard())
    assert set(chosen) == {"10.0.0.5:6060", "dup"}
    assert any("not HOST:PORT" in p for p in problems)
    assert any("'dup' is taken" in p for p in problems)


def test_file_sd_is_reread_when_it_changes_and_a_bad_edit_keeps_the_old_targets(
        tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    path.write_text(json.dumps([{"targets": ["10.0.0.5:6060"]}]))
    config = WatchConfig(file_sd=(FileSD((str(tmp_path / "*.json"),), None, Client()),))
    discovery = Discovery(config, Clients(config.limits))
    discovery.check_files()
    assert set(discovery.targets()) == {"10.0.0.5:6060"}
    path.write_text(json.dumps([{"targets": ["10.0.0.6:6060", "10.0.0.7:6060"]}]))
    os.utime(path, ns=(1, 1))  # a new mtime even on a coarse clock
    discovery._reload_files()
    assert set(discovery.targets()) == {"10.0.0.6:6060", "10.0.0.7:6060"}
    path.write_text("[{")
    os.utime(path, ns=(2, 2))
    discovery._reload_files()
    assert set(discovery.targets()) == {"10.0.0.6:6060", "10.0.0.7:6060"}
    assert any("invalid JSON" in p for p in discovery.reported)
    path.unlink()
    discovery._reload_files()
    assert discovery.targets() == {}


def test_only_the_last_segment_may_be_a_glob(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "b.yml").write_text("[]")
    assert matches(str(tmp_path / "*.json")) == [tmp_path / "a.json"]
    assert matches(str(tmp_path / "b.yml")) == [tmp_path / "b.yml"]
    assert matches(str(tmp_path / "missing.json")) == []


def test_http_sd(tmp_path: Path) -> None:
    body = json.dumps([{"targets": ["10.0.0.9:6060"], "labels": {"target": "svc"}}]).encode()
    with fake_targets({"sd": Behaviour("document", body)}) as fakes:
        url = f"{fakes['sd'].url}/sd"
        config = WatchConfig(http_sd=(HttpSD(url, 60.0, tmp_path, Client()),))

        async def discover() -> dict[str, object]:
            clients = Clients(config.limits)
            try:
                discovery = Discovery(config, clients)
                await discovery.fetch_http(strict=True)
                return dict(discovery.targets())
            finally:
                await clients.aclose()

        targets = asyncio.run(discover())
    assert list(targets) == ["svc"]
    assert targets["svc"].source == tmp_path  # type: ignore[attr-defined]
