"""`import` warns on every config key named like a secret (from_live.SECRET_KEY_NAMES), and only on those."""

from __future__ import annotations

import re

import pytest

from reconciler.desired.from_live import SECRET_KEY_NAMES, secret_looking

# One key per alternative of SECRET_KEY_NAMES (and its spellings): removing any alternative fails one.
SECRET_NAMES = ["api_token", "token", "password", "DB_PASSWD", "secret", "client_secret", "access_key",
                "AccessKey", "accessKeyId", "api_key", "apikey", "credential", "credentials", "private_key",
                "privatekey"]
PLAIN_NAMES = ["name", "timeout", "path", "keyfile", "region", "model_path", "processor", "pass"]


@pytest.mark.parametrize("key", SECRET_NAMES)
def test_a_key_named_like_a_secret_is_reported_with_its_path(key: str) -> None:
    config = {"metadata": {"instance": 1}, "env": [{key: "hunter2"}], key: "hunter2"}
    assert secret_looking(config, "config") == [f"config.env[0].{key}", f"config.{key}"]


@pytest.mark.parametrize("key", SECRET_NAMES)
def test_an_env_reference_is_not_a_secret(key: str) -> None:
    assert secret_looking({key: "${env:MY_SECRET}"}) == []


@pytest.mark.parametrize("key", PLAIN_NAMES)
def test_ordinary_keys_are_not_reported(key: str) -> None:
    assert not SECRET_KEY_NAMES.search(key)
    assert secret_looking({key: "value"}) == []


def test_every_alternative_of_the_pattern_has_a_case() -> None:
    alternatives = SECRET_KEY_NAMES.pattern.split("|")
    for alternative in alternatives:
        assert any(re.fullmatch(f".*(?:{alternative}).*", k, re.IGNORECASE)
                   for k in SECRET_NAMES), alternative
