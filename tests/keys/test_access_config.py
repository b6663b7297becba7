"""The `auth` and `limits` keys of llms.json for client keys: values, `$VAR` references, and
errors that name the path."""

from __future__ import annotations

import pytest

from llms.config import ConfigError, parse_config


def parse(env: dict[str, str] | None = None, **root: object):  # type: ignore[no-untyped-def]
    return parse_config({"providers": {}, **root}, "llms.json", env or {}).access


def test_defaults_and_values():
    assert parse().required is False and parse().redis_url is None
    a = parse({"ADMIN": "adm", "REDIS": "redis://127.0.0.1:6379/1"}, auth={"required": True, "admin_key": "$ADMIN"},
              limits={"redis_url": "$REDIS", "fail_closed": True, "client_max_size": 1000})  # fmt: skip
    assert (a.required, a.admin_key, a.admin_key_env, a.redis_url, a.fail_closed) == (
        True, "adm", "ADMIN", "redis://127.0.0.1:6379/1", True)  # fmt: skip
    # llms.py's own auth keys stay accepted
    assert parse(auth={"enabled": False, "github": {"client_id": "x"}}).required is False
    assert parse(auth={"admin_key": "$UNSET"}).admin_key is None  # unset: the admin API stays off


@pytest.mark.parametrize(
    ("root", "where"),
    [
        ({"auth": {"required": "yes"}}, "auth.required"),
        ({"auth": {"admin_key": 5}}, "auth.admin_key"),
        ({"limits": {"redis_url": "http://x"}}, "limits.redis_url"),
        ({"limits": {"redis_url": "$NOPE"}}, "limits.redis_url"),
        ({"limits": {"fail_closed": 1}}, "limits.fail_closed"),
        ({"auth": []}, "auth"),
    ],
)
def test_bad_values_name_the_path(root: dict, where: str):
    with pytest.raises(ConfigError) as e:
        parse(**root)
    assert e.value.where == where
