from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.core.settings import DEVELOPMENT_SECRET, Environment, Settings, SettingsError


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("env", [Environment.production, Environment.test])
def test_outside_development_the_default_secret_stops_the_process(env: Environment) -> None:
    with pytest.raises(SettingsError, match="CLINIC_SECRET_KEY"):
        _settings(env=env)
    with pytest.raises(SettingsError, match="CLINIC_SECRET_KEY"):
        _settings(env=env, secret_key=DEVELOPMENT_SECRET)


def test_a_short_secret_is_refused_in_production() -> None:
    with pytest.raises(SettingsError, match="32"):
        _settings(env=Environment.production, secret_key="too-short")


def test_a_strong_secret_is_accepted_in_production() -> None:
    settings = _settings(env=Environment.production, secret_key="x" * 40)
    assert settings.env is Environment.production


def test_development_runs_on_the_default_secret() -> None:
    assert _settings().secret_key == DEVELOPMENT_SECRET


def test_settings_come_from_clinic_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_SESSION_IDLE_MINUTES", "45")
    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setenv("CLINIC_SECRET_KEY", "y" * 40)
    settings = _settings()
    assert settings.session_idle_minutes == 45
    assert settings.env is Environment.production


def test_the_error_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_ENV", "production")
    with pytest.raises(SettingsError) as raised:
        _settings()
    assert "\n" not in str(raised.value)


def test_the_alert_inbox_must_be_an_email_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """Urgent alerts go there: a typo must stop the process, not lose an alert."""
    monkeypatch.setenv("CLINIC_ALERT_EMAIL", "front desk")
    with pytest.raises(ValidationError, match="alert_email"):
        _settings()
    monkeypatch.setenv("CLINIC_ALERT_EMAIL", "desk@balanced-atlas.example")
    assert _settings().alert_email == "desk@balanced-atlas.example"
    monkeypatch.setenv("CLINIC_ALERT_EMAIL", "")  # as Compose passes an unset one
    assert _settings().alert_email is None


def test_a_send_is_never_reaped_while_the_smtp_server_may_still_answer() -> None:
    """A reaper quicker than the SMTP timeout would resend sends still waiting: duplicates."""
    with pytest.raises(SettingsError, match="CLINIC_SENDING_TIMEOUT_SECONDS"):
        _settings(sending_timeout_seconds=20, smtp_timeout_seconds=20)
    assert _settings(sending_timeout_seconds=25, smtp_timeout_seconds=20).sending_timeout_seconds


def test_trusted_proxies_are_addresses_and_networks() -> None:
    settings = _settings(trusted_proxies="10.0.0.5, 172.16.0.0/12,::1")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "10.0.0.5/32",
        "172.16.0.0/12",
        "::1/128",
    ]
    assert _settings().trusted_proxy_networks == ()


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.internal", "10.0.0.5/8"])
def test_a_bad_trusted_proxy_stops_the_process_in_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLINIC_TRUSTED_PROXIES", f"10.0.0.1,{value}")
    with pytest.raises(SettingsError, match="CLINIC_TRUSTED_PROXIES") as raised:
        _settings()
    assert value in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_short_metrics_token_stops_the_process() -> None:
    with pytest.raises(SettingsError, match="CLINIC_METRICS_TOKEN"):
        _settings(metrics_token="short")
    assert _settings(metrics_token="").metrics_token is None  # as Compose passes an unset one


def test_docs_are_off_in_production_unless_asked_for() -> None:
    production = {"env": Environment.production, "secret_key": "x" * 40}
    assert not _settings(**production).docs_enabled
    assert _settings(**production, docs=True).docs_enabled
    assert _settings().docs_enabled
    assert not _settings(docs=False).docs_enabled
    assert _settings(docs="").docs is None  # as Compose passes an unset one
