"""Configuration defaults that protect production."""

from __future__ import annotations

import pytest

from webapp.config import from_environment


@pytest.mark.parametrize(
    "base_url, shown",
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:5000", True),
        ("http://acompte.localhost", True),
        ("http://acompte.example.com", False),
        ("https://acompte.example.com", False),
    ],
)
def test_outbox_is_shown_only_for_local_addresses(monkeypatch, tmp_path, base_url, shown):
    monkeypatch.setenv("BASE_URL", base_url)
    monkeypatch.delenv("SHOW_OUTBOX", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    assert from_environment(tmp_path)["SHOW_OUTBOX"] is shown


def test_no_real_key_means_the_fake_server(monkeypatch, tmp_path):
    for name in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_JS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    config = from_environment(tmp_path)
    assert config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert config["STRIPE_JS_URL"] == "http://127.0.0.1:8420/js.stripe.com/v3/"


def test_a_real_key_means_real_stripe(monkeypatch, tmp_path):
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    monkeypatch.delenv("STRIPE_JS_URL", raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_real")
    monkeypatch.setenv("SECRET_KEY", "x")
    config = from_environment(tmp_path)
    assert config["STRIPE_API_BASE"] is None
    assert config["STRIPE_JS_URL"] == "https://js.stripe.com/v3/"


def test_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = from_environment(tmp_path)["SECRET_KEY"]
    assert first == from_environment(tmp_path)["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
