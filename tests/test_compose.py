"""Static checks of docker-compose.yml and the Dockerfile (Docker itself is not needed)."""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

APP_SERVICES = ("migrate", "api", "worker", "beat")
ALLOWED_CONDITIONS = {"service_healthy", "service_completed_successfully", "service_started"}
CLI_SUBCOMMANDS = {"api", "worker", "beat", "migrate", "dev", "create-user", "seed-demo"}
OWNER_URL = "CLINIC_MIGRATE_DATABASE_URL"
REQUIRED_APP_ENV = ("CLINIC_DATABASE_URL", "CLINIC_REDIS_URL", "CLINIC_SECRET_KEY", "CLINIC_ENV")


@lru_cache(maxsize=1)
def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def services(compose: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    doc = load_compose() if compose is None else compose
    svcs = doc.get("services")
    assert isinstance(svcs, dict), "docker-compose.yml has no services mapping"
    assert svcs, "docker-compose.yml defines no services"
    return svcs


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Normalise short (list) and long (mapping) depends_on syntax to {target: condition}."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {str(name): "service_started" for name in raw}
    assert isinstance(raw, dict), f"unexpected depends_on form: {raw!r}"
    return {
        str(name): str((spec or {}).get("condition", "service_started"))
        for name, spec in raw.items()
    }


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """Normalise list (`KEY=value`) and mapping environment syntax to a dict."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        env: dict[str, str | None] = {}
        for item in raw:
            key, sep, value = str(item).partition("=")
            env[key] = value if sep else None
        return env
    assert isinstance(raw, dict), f"unexpected environment form: {raw!r}"
    return {str(k): None if v is None else str(v) for k, v in raw.items()}


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable") is True:
        return False
    test = check.get("test")
    if isinstance(test, list):
        return bool(test) and test[0] != "NONE"
    return bool(test)


def command_tokens(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(token) for token in value]
    return shlex.split(str(value))


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    svcs = services(compose)
    problems: list[str] = []
    for name, service in svcs.items():
        for target, condition in depends_on(service).items():
            if target not in svcs:
                problems.append(f"{name} depends on unknown service {target!r}")
                continue
            if condition not in ALLOWED_CONDITIONS:
                problems.append(f"{name} -> {target}: invalid condition {condition!r}")
            if condition == "service_healthy" and not has_healthcheck(svcs[target]):
                problems.append(f"{name} waits for {target} to be healthy; it has no healthcheck")
    return problems


def dockerfile_copy_sources(text: str) -> list[str]:
    """Source paths of every `COPY` instruction, skipping multi-stage `COPY --from=...`."""
    # Join line continuations so each instruction is on one logical line.
    logical = text.replace("\\\n", " ").splitlines()
    sources: list[str] = []
    for line in logical:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if parts[0].upper() != "COPY" or len(parts) < 2:
            continue
        args = parts[1].strip()
        flags: list[str] = []
        while args.startswith("--"):
            flag, _, args = args.partition(" ")
            flags.append(flag)
            args = args.strip()
        if any(flag.startswith("--from") for flag in flags):
            continue
        tokens = json.loads(args) if args.startswith("[") else shlex.split(args)
        assert len(tokens) >= 2, f"COPY needs a source and a destination: {stripped!r}"
        sources.extend(str(token) for token in tokens[:-1])
    return sources


def test_depends_on_targets_exist_and_conditions_are_valid() -> None:
    assert dependency_problems(load_compose()) == []


def test_postgres_and_redis_have_healthchecks() -> None:
    svcs = services()
    for name in ("postgres", "redis"):
        assert name in svcs, f"missing service {name}"
        assert has_healthcheck(svcs[name]), f"{name} has no healthcheck"


def test_redis_uses_durable_aof_without_eviction() -> None:
    command = " ".join(command_tokens(services()["redis"].get("command")))
    for option in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert option in command, f"redis command lacks {option!r}: {command!r}"


def test_app_services_share_image_build_and_environment() -> None:
    svcs = services()
    missing = [name for name in APP_SERVICES if name not in svcs]
    assert not missing, f"missing app services: {missing}"
    first = svcs[APP_SERVICES[0]]
    assert first.get("image"), "app services need an explicit image name"
    assert first.get("build") is not None, "app services need a build section"
    for name in APP_SERVICES[1:]:
        assert svcs[name].get("image") == first.get("image"), f"{name} uses another image"
        assert svcs[name].get("build") == first.get("build"), f"{name} uses another build"
        # Only migrate holds the owner's URL (checked below); the rest is the same.
        migrate_env = {k: v for k, v in environment(first).items() if k != OWNER_URL}
        assert environment(svcs[name]) == migrate_env, f"{name} environment differs"


def test_app_services_set_required_environment() -> None:
    svcs = services()
    for name in APP_SERVICES:
        env = environment(svcs[name])
        for key in REQUIRED_APP_ENV:
            assert env.get(key), f"{name} does not set {key}"


def test_long_running_app_services_wait_for_migrations() -> None:
    svcs = services()
    for name in ("api", "worker", "beat"):
        deps = depends_on(svcs[name])
        assert deps.get("migrate") == "service_completed_successfully", (
            f"{name} must depend on migrate with service_completed_successfully"
        )


def test_dockerfile_copy_sources_exist() -> None:
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    sources = dockerfile_copy_sources(DOCKERFILE.read_text(encoding="utf-8"))
    assert sources, "Dockerfile copies nothing"
    missing = [src for src in sources if not (REPO_ROOT / src).exists()]
    assert not missing, f"Dockerfile COPYs paths that do not exist: {missing}"


def test_compose_runs_only_known_cli_subcommands() -> None:
    seen: list[str] = []
    for name, service in services().items():
        for key in ("entrypoint", "command"):
            tokens = command_tokens(service.get(key))
            if tokens and Path(tokens[0]).name == "clinic":
                assert len(tokens) >= 2, f"{name}: bare `clinic` without a subcommand"
                assert tokens[1] in CLI_SUBCOMMANDS, f"{name}: unknown subcommand {tokens[1]!r}"
                seen.append(name)
    assert set(APP_SERVICES) <= set(seen), f"app services not running `clinic`: {seen}"


def _user(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    assert url, "a database URL is missing"
    return str(make_url(url.replace("${APP_DB_PASSWORD:-clinic_app}", "pw")).username)


def test_only_migrate_logs_in_as_the_owner_and_the_rest_as_the_app_role() -> None:
    svcs = services()
    owner = environment(svcs["postgres"])["POSTGRES_USER"]
    migrate_env = environment(svcs["migrate"])
    assert _user(migrate_env.get(OWNER_URL)) == owner
    for name in APP_SERVICES:
        env = environment(svcs[name])
        assert _user(env.get("CLINIC_DATABASE_URL")) == "clinic_app", name
        if name != "migrate":
            assert OWNER_URL not in env, f"{name} must not hold the owner's login"
