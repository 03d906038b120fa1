"""The Celery application: same settings as the API, Redis as broker.

Reliability settings, and why:
- ``acks_late`` + ``task_reject_on_worker_lost``: a task whose worker dies is redelivered,
  so every task must be idempotent (they take ids and re-check the row);
- prefetch 1: a slow task does not hold others hostage in a worker's buffer;
- visibility timeout (1 h) longer than the hard time limit (5 min): Redis never hands a
  running task to a second worker. No task uses ETA/countdown for scheduling: periodic beat
  tasks read due work from PostgreSQL instead.
"""

from __future__ import annotations

from celery import Celery
from celery.app import trace
from celery.signals import beat_init, setup_logging, worker_init, worker_process_init

from services import wiring
from services.core import db_roles, dev_clock
from services.core.logging import configure_logging
from services.core.settings import Environment, SettingsError, get_settings
from workers.schedule import beat_schedule

TASK_TIME_LIMIT = 300
VISIBILITY_TIMEOUT = 3600


def create_celery() -> Celery:
    wiring.register_kinds()  # the composition root of the worker and beat processes
    settings = get_settings()
    if not settings.redis_url:
        raise SettingsError(
            "CLINIC_REDIS_URL must be set for workers (`clinic dev` starts an embedded Redis)"
        )
    # Beat keeps its schedule state here; a fresh container has no such folder yet.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery(
        "clinic",
        include=["workers.tasks.maintenance", "workers.tasks.messages", "workers.tasks.checkins"],
    )
    app.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_TIME_LIMIT - 30,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue=settings.task_queue,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    return app


def _quiet_failure_lines() -> None:
    """Celery's task failure and retry lines end with ``repr(exception)``, which can quote
    patient data (a database error shows the row). Ours name the task only; the exception
    is still logged, reduced to its class and frames (services/core/logging.py)."""
    line = "Task %(name)s[%(id)s] %(description)s"
    trace.log_policy_unexpected = trace.log_policy_unexpected._replace(format=line)
    trace.log_policy_expected = trace.log_policy_expected._replace(format=line)
    trace.log_policy_internal = trace.log_policy_internal._replace(format=line)
    trace.log_policy_reject = trace.log_policy_reject._replace(format="Task %(name)s[%(id)s]")
    trace.LOG_RETRY = "Task %(name)s[%(id)s] retry"


_quiet_failure_lines()


@setup_logging.connect
def _logging(**_: object) -> None:
    settings = get_settings()
    configure_logging(
        settings.log_level, json=settings.log_json, cache=settings.env is not Environment.test
    )


@worker_init.connect
@beat_init.connect
def _check_at_start(**_: object) -> None:
    # Celery logs and swallows an Exception from a signal handler; SystemExit stops it.
    from workers.db import engine

    with engine().connect() as connection:
        problems = db_roles.login_problems(connection)
    # This runs in the parent of the prefork children: the children must not inherit the
    # pooled connection it used (two children on one connection mix their rows).
    engine().dispose()
    settings = get_settings()
    try:
        db_roles.enforce(problems, settings.env)
        dev_clock.start(settings)  # the shared development clock, or refused in production
    except SettingsError as refused:
        raise SystemExit(f"[clinic] {refused}") from None


@worker_process_init.connect
def _own_connections(**_: object) -> None:
    """A prefork child drops whatever pool it inherited, without closing the parent's
    sockets (SQLAlchemy's recipe for forked processes), and opens its own connections."""
    from workers.db import engine

    engine().dispose(close=False)


celery_app = create_celery()
