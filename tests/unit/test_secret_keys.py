"""The secret key: refused when missing, public or short; the demo key kept in var/;
old keys verify, only the current one signs."""

from __future__ import annotations

import stat

import pytest
from itsdangerous import BadSignature, URLSafeTimedSerializer

from aefi.auth import keys
from aefi.auth.login import service as auth_login
from aefi.settings import Settings

GOOD = "k" * 10 + "0123456789abcdefghijklmnopqrstuv"
OTHER = "Z" * 10 + "abcdefghij0123456789ABCDEFGHIJKL"


@pytest.mark.parametrize(
    "key",
    ["", "dev-only-change-me", "CHANGEME", "secret", "short-but-random-x9", "a" * 64],
)
def test_missing_public_short_or_repetitive_keys_are_refused(key):
    with pytest.raises(keys.SecretKeyError) as err:
        keys.check(Settings(secret_key=key, demo=False))
    message = str(err.value)
    assert "AEFI_SECRET_KEY" in message and "secrets.token_urlsafe(48)" in message


def test_a_real_key_passes_and_a_public_old_key_does_not():
    keys.check(Settings(secret_key=GOOD))
    with pytest.raises(keys.SecretKeyError):
        keys.check(Settings(secret_key=GOOD, secret_key_old="dev-only-change-me"))


def test_the_app_does_not_start_without_a_key_outside_demo_mode(monkeypatch):
    from aefi.app import create_app

    with pytest.raises(keys.SecretKeyError, match="AEFI_SECRET_KEY is not set"):
        create_app(Settings(secret_key="", demo=False))
    with pytest.raises(keys.SecretKeyError, match="known public default"):
        create_app(Settings(secret_key="dev-only-change-me", demo=False))


def test_demo_mode_keeps_one_private_key_per_installation(tmp_path, monkeypatch):
    from aefi.app import create_app

    monkeypatch.setenv("AEFI_SECRET_KEY", "")  # restored after the test
    first = Settings(secret_key="", demo=True, var_dir=tmp_path)
    create_app(first)
    path = tmp_path / keys.KEY_FILE
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.problem(first.secret_key) is None
    assert path.read_text().strip() == first.secret_key
    again = Settings(secret_key="", demo=True, var_dir=tmp_path)
    create_app(again)
    assert again.secret_key == first.secret_key  # reused on the next start
    other = keys.demo_key(tmp_path / "elsewhere")
    assert other != first.secret_key  # another installation, another key


def test_old_keys_verify_but_only_the_current_key_signs():
    before = Settings(secret_key=OTHER)
    rotated = Settings(secret_key=GOOD, secret_key_old=OTHER)
    old_token = auth_login._serializer(before).dumps({"u": 1, "v": 1})
    assert auth_login._serializer(rotated).loads(old_token) == {"u": 1, "v": 1}
    new_token = auth_login._serializer(rotated).dumps({"u": 1, "v": 1})
    URLSafeTimedSerializer(GOOD, salt="aefi-api-token").loads(new_token)
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(OTHER, salt="aefi-api-token").loads(new_token)
    # Once the old key is dropped, its tokens are refused.
    with pytest.raises(BadSignature):
        auth_login._serializer(Settings(secret_key=GOOD)).loads(old_token)
