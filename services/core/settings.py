"""One settings class for the API, the workers and the CLI (prefix ``CLINIC_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A recognisable placeholder: usable in development only, refused anywhere else.
DEVELOPMENT_SECRET = "dev-only-insecure-secret-change-me"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class SettingsError(RuntimeError):
    """Configuration that must stop the process at start, with one clear line."""


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
    redis_url: str | None = Field(
        default=None, description="Redis URL for the Celery broker; unset: an embedded server."
    )
    data_dir: Path = Field(
        default=Path(".clinic"), description="Where the embedded servers keep their data."
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
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

    db_pool_size: int = Field(default=10, ge=1)
    health_timeout_seconds: float = Field(default=2.0, gt=0)

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
