"""The edge settings in-process: `cors` / `server` validation with path-named errors, the Host
policy on loopback and non-loopback binds, `"*"`, and the start notice for llms.py's `auth`."""

from __future__ import annotations

import pytest

from llms.app import build
from llms.config import ConfigError
from llms.config.edge import AUTH_NOTICE
from llms.config.schema import parse_config
from llms.server.guards import EdgePolicy, same_origin

PROVIDERS = {"providers": {"p": {"type": "OpenAiProvider", "base_url": "http://127.0.0.1:9", "models": {"m": "m"}}}}


def parse(**top: object):  # type: ignore[no-untyped-def]
    return parse_config({**PROVIDERS, **top}, "llms.json", env={})


def test_edge_settings_are_read() -> None:
    edge = parse(
        cors={"allow_origins": ["https://App.Example.com/", "*"]},
        server={"allowed_hosts": ["LLMS.example.com.", ".internal"], "header_timeout": 5, "body_timeout": 7},
    ).edge
    assert edge.allow_origins == ("https://app.example.com", "*")
    assert edge.allowed_hosts == ("llms.example.com", ".internal")
    assert (edge.header_timeout, edge.body_timeout) == (5, 7)


@pytest.mark.parametrize(
    ("top", "where"),
    [
        ({"cors": []}, "cors"),
        ({"cors": {"origins": []}}, "cors.origins"),
        ({"cors": {"allow_origins": "https://a.example"}}, "cors.allow_origins"),
        ({"cors": {"allow_origins": ["https://a.example/path"]}}, "cors.allow_origins[0]"),
        ({"cors": {"allow_origins": ["ok.example"]}}, "cors.allow_origins[0]"),
        ({"cors": {"allow_origins": ["https://a.example", 3]}}, "cors.allow_origins[1]"),
        ({"server": {"allowed_hosts": ["http://x.example"]}}, "server.allowed_hosts[0]"),
        ({"server": {"allowed_host": []}}, "server.allowed_host"),
        ({"server": {"header_timeout": 0}}, "server.header_timeout"),
        ({"server": {"body_timeout": "60"}}, "server.body_timeout"),
    ],
)
def test_bad_edge_settings_name_the_path(top: dict, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(**top)
    assert e.value.where == where


def test_the_loopback_bind_serves_only_the_machines_names() -> None:
    policy = EdgePolicy((), ("llms.example.com", ".internal"), bind_host="127.0.0.1")
    for host in ["localhost:8000", "127.0.0.1", "127.0.0.2:1", "[::1]:8000", "app.localhost", "llms.example.com:443"]:
        assert policy.host_allowed(host), host
    assert policy.host_allowed("a.internal")
    for host in ["evil.test", "10.0.0.5:8000", "[fe80::1]", "internal", "llms.example.com.evil"]:
        assert not policy.host_allowed(host), host


def test_a_non_loopback_bind_also_serves_ip_addresses_and_the_bound_name() -> None:
    wildcard = EdgePolicy((), (), bind_host="0.0.0.0")
    assert wildcard.host_allowed("172.17.0.2:8000") and wildcard.host_allowed("[fd00::2]:8000")
    assert not wildcard.host_allowed("llms:8000")  # a compose service name must be listed
    assert not wildcard.host_allowed("evil.test")
    named = EdgePolicy((), (), bind_host="box.lan")
    assert named.host_allowed("box.lan:8000")


def test_star_turns_the_host_check_off_and_allows_every_origin() -> None:
    policy = EdgePolicy(("*",), ("*",))
    assert policy.host_allowed("anything.example")
    assert policy.origin_allowed("https://any.example") and policy.origin_allowed("null")


def test_origins() -> None:
    policy = EdgePolicy(("https://app.example.com",), ())
    assert policy.origin_allowed("https://app.example.com")
    assert policy.origin_allowed("http://localhost:5173") and policy.origin_allowed("https://[::1]:1")
    for origin in ["null", "https://evil.example", "ftp://localhost", "http://localhost.evil.example"]:
        assert not policy.origin_allowed(origin), origin
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert same_origin("https://llms.example.com", "llms.example.com:443")
    assert not same_origin("http://evil.test:8000", "127.0.0.1:8000")


def test_llms_py_auth_settings_give_a_start_notice() -> None:
    assert AUTH_NOTICE in build(parse(auth={"enabled": True, "github": {"client_id": "x"}})).notices
    assert AUTH_NOTICE not in build(parse(auth={"enabled": False})).notices
    assert AUTH_NOTICE not in build(parse()).notices
