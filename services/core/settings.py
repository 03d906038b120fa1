"""One settings class for the API, the workers and the CLI (prefix ``CLINIC_``)."""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import phonenumbers
from pydantic import EmailStr, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A recognisable placeholder: usable in development only, refused anywhere else.
DEVELOPMENT_SECRET = "dev-only-insecure-secret-change-me"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class SmtpSecurity(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    none = "none"


class SettingsError(RuntimeError):
    """Configuration that must stop the process at start, with one clear line."""


_OFFSET = re.compile(r"^(\d{1,5})([dhm]?)$")
_MINUTES_PER_UNIT = {"d": 1440, "h": 60, "m": 1, "": 1}
_QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_offsets(text: str) -> list[int]:
    """``"48h,2h"`` as minutes, largest first: ``[2880, 120]`` (units d, h, m; bare = m)."""
    minutes = []
    for part in text.replace(" ", "").split(","):
        match = _OFFSET.match(part)
        if not match or int(match[1]) == 0:
            raise ValueError(f"{part!r} is not an offset like 48h, 90m or 2d")
        minutes.append(int(match[1]) * _MINUTES_PER_UNIT[match[2]])
    return sorted(set(minutes), reverse=True)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.5, 172.16.0.0/12"`` as networks (an address is a network of one)."""
    networks = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part))
        except ValueError:
            raise SettingsError(
                f"CLINIC_TRUSTED_PROXIES: {part!r} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """``"21:00-08:00"`` as (start, end) local times; the window may cross midnight."""
    match = _QUIET_HOURS.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a window like 21:00-08:00")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    if start == end:
        raise ValueError("quiet hours must start and end at different times")
    return start, end


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLINIC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.development
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET,
        description="Key for hashing session and link tokens (HMAC-SHA256); 32+ characters.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql+psycopg://…); unset: an embedded server.",
    )
    migrate_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the tables' owner, for `clinic migrate`; unset: "
        "CLINIC_DATABASE_URL (one role for both, development only).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL for the Celery broker; unset: an embedded server."
    )
    data_dir: Path = Field(
        default=Path(".clinic"), description="Where the embedded servers keep their data."
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="How many API processes `clinic api` (and `clinic dev`) runs on the port.",
    )
    log_level: str = "INFO"
    log_json: bool = True

    admin_email: str | None = Field(
        default=None, description="First admin created on an empty database."
    )
    admin_password: str | None = Field(
        default=None, description="Its password; unset: generated and printed once."
    )
    seed_demo: bool = Field(
        default=True,
        description="Seed the demo clinic (staff accounts so far) on an empty database.",
    )

    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    login_address_max_failures: int = Field(
        default=30,
        ge=1,
        description="Failed sign-ins from one client address, per window, before it gets 429.",
    )
    login_address_window_minutes: int = Field(
        default=15, ge=1, description="The window of the per-address sign-in throttle."
    )
    login_hash_concurrency: int = Field(
        default=4,
        ge=1,
        description="Password checks (argon2) one API process runs at once; the rest queue.",
    )
    feed_max_days: int = Field(
        default=365, ge=1, description="A calendar feed address stops working this long after."
    )

    db_pool_size: int = Field(default=10, ge=1)
    health_timeout_seconds: float = Field(default=2.0, gt=0)

    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body the API reads (413 above it); the patient pages "
        "and the SMS webhook keep their own smaller limits.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs/CIDRs of the reverse proxies whose X-Forwarded-For, "
        "X-Forwarded-Proto and X-Request-ID are believed; empty: none.",
    )
    docs: bool | None = Field(
        default=None,
        description="Serve /docs and /openapi.json; unset: everywhere but production.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token /metrics requires (16+ characters); unset: /metrics is open.",
    )

    phone_region: str = Field(
        default="US",
        description="Region (ISO 3166 code) for phone numbers typed without a country code.",
    )
    reminder_offsets: str | None = Field(
        default=None,
        description="Development override of every location's reminder offsets, e.g. 48h,2h.",
    )
    quiet_hours: str | None = Field(
        default=None,
        description="Development override of every location's quiet hours, e.g. 21:00-08:00.",
    )
    slot_grid_minutes: int = Field(
        default=10, ge=5, le=60, description="Availability offers starts on this local grid."
    )
    min_notice_minutes: int = Field(
        default=60, ge=0, description="Availability offers no start sooner than this from now."
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the API as patients reach it; links in messages start with it.",
    )
    task_queue: str = Field(
        default="clinic", description="Celery queue the API, beat and workers share."
    )
    dispatch_interval_seconds: float = Field(
        default=15, gt=0, description="How often the dispatcher looks for due messages."
    )
    dispatch_batch: int = Field(
        default=500, ge=1, description="Most messages one dispatcher run claims."
    )
    queued_timeout_seconds: int = Field(
        default=600,
        ge=1,
        description="A message queued this long whose send never began is queued again (reaper).",
    )
    sending_timeout_seconds: int = Field(
        default=600,
        ge=1,
        description=(
            "A message sending this long (its worker died waiting on the provider) is sent"
            " again with the same Message-ID / Idempotency-Key (reaper). Above the SMTP"
            " timeout, which applies to each SMTP command, and the 300 s task time limit."
        ),
    )
    send_max_attempts: int = Field(
        default=8, ge=1, description="Sends tried before a message is marked failed."
    )
    send_retry_seconds: int = Field(
        default=60, ge=1, description="First retry delay after a transient failure; doubles."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for email; unset: emails go to the outbox folder."
    )
    smtp_port: int = 587
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.starttls, description="starttls, ssl or none."
    )
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=20, gt=0)
    email_from: str = Field(
        default="clinic@localhost", description="Sender address of patient emails."
    )
    alert_email: EmailStr | None = Field(
        default=None,
        description="The clinic inbox urgent check-in alerts are emailed to (with the "
        "practitioner); a location's message settings may name another.",
    )
    checkin_link_hours: int = Field(
        default=72, ge=1, le=720, description="How long a check-in link works after it is sent."
    )
    sms_account_sid: str | None = Field(
        default=None,
        description="Twilio-style account SID; unset: text messages go to the outbox folder.",
    )
    sms_auth_token: str | None = Field(
        default=None, description="Its auth token; also checks inbound webhook signatures."
    )
    sms_from: str | None = Field(default=None, description="The clinic's number (E.164).")
    sms_base_url: str = Field(
        default="https://api.twilio.com", description="The SMS provider's API base URL."
    )

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"CLINIC_PHONE_REGION {value!r} is not a region code such as US")
        return value.upper()

    @field_validator("alert_email", "metrics_token", "docs", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose passes "${CLINIC_ALERT_EMAIL:-}": empty means not configured.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise SettingsError("CLINIC_METRICS_TOKEN must be 16+ characters when set")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo stops the process instead of trusting nobody quietly
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _offsets_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_offsets(value)  # fail at start, not when the first reminder is due
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value

    @property
    def migration_url(self) -> str | None:
        """The owner's URL for migrations (the app's own when no separate one is set)."""
        return self.migrate_database_url or self.database_url

    @property
    def outbox_dir(self) -> Path:
        """Where the development channel writes messages it would have sent."""
        return self.data_dir / "outbox"

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def docs_enabled(self) -> bool:
        # Staff would type passwords into /docs: in production only when asked for.
        return self.docs if self.docs is not None else self.env is not Environment.production

    @property
    def https(self) -> bool:
        """Patients and staff reach the API over TLS (then browsers are told to insist: HSTS)."""
        return self.public_url.lower().startswith("https://")

    @property
    def reminder_offsets_minutes(self) -> list[int] | None:
        return parse_offsets(self.reminder_offsets) if self.reminder_offsets else None

    @property
    def quiet_hours_window(self) -> tuple[time, time] | None:
        return parse_quiet_hours(self.quiet_hours) if self.quiet_hours else None

    @model_validator(mode="after")
    def _sending_outlasts_the_provider(self) -> Settings:
        # A reaper quicker than the provider's timeout would resend live sends: duplicates.
        if self.sending_timeout_seconds <= self.smtp_timeout_seconds:
            raise SettingsError(
                "CLINIC_SENDING_TIMEOUT_SECONDS must be above CLINIC_SMTP_TIMEOUT_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.env is Environment.development:
            return self
        if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32:
            raise SettingsError(
                f"CLINIC_SECRET_KEY must be set to a random value of 32+ characters "
                f"when CLINIC_ENV={self.env.value}"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
