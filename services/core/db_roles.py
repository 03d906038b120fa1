"""Two database roles: the owner migrates, the app only reads and writes.

The guarantees that live in the database (signed notes are final, the audit trail is
append-only, …) hold only against a login that cannot switch them off. A superuser can
``SET session_replication_role = replica`` and skip every trigger; a table's owner can
disable its triggers or drop it. So the API, worker and beat log in as a member of
``clinic_app``: no superuser, owns nothing, and has only the privileges that migration
0009 grants (no UPDATE/DELETE on append-only tables, no DDL). Migrations run as the owner
(``CLINIC_MIGRATE_DATABASE_URL``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import structlog
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core.settings import Environment, SettingsError

log = structlog.get_logger(__name__)

# The group role migrations grant to. Logins of the API, worker and beat are members of it
# (or it is the login itself, as with the embedded server).
APP_ROLE = "clinic_app"

# The login's own attributes, and the tables it owns directly or through a role it is in.
_LOGIN_FACTS = text(
    """
    SELECT r.rolsuper,
           (SELECT count(*) FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owned
      FROM pg_roles r WHERE r.rolname = current_user
    """
)


def _problems(user: str, superuser: bool, owned: int) -> list[str]:
    problems = []
    if superuser:
        problems.append(f"the database login {user!r} is a superuser")
    elif owned:
        problems.append(f"the database login {user!r} owns {owned} tables")
    return problems


def login_problems(connection: Connection) -> list[str]:
    """Why this login could switch the database's guarantees off (empty: it cannot)."""
    user = connection.execute(text("SELECT current_user")).scalar_one()
    superuser, owned = connection.execute(_LOGIN_FACTS).one()
    return _problems(user, superuser, owned)


async def login_problems_async(connection: AsyncConnection) -> list[str]:
    user = (await connection.execute(text("SELECT current_user"))).scalar_one()
    superuser, owned = (await connection.execute(_LOGIN_FACTS)).one()
    return _problems(user, superuser, owned)


def refusal(problems: list[str]) -> str:
    return (
        "; ".join(problems)
        + ": connect the API, worker and beat as a member of the clinic_app role that owns"
        " nothing (CLINIC_DATABASE_URL), and run migrations as the owner"
        " (CLINIC_MIGRATE_DATABASE_URL)"
    )


def enforce(problems: list[str], env: Environment) -> None:
    """Outside development a login that could switch the guarantees off stops the process
    (one clear line); in development it is a warning."""
    if not problems:
        return
    if env is Environment.development:
        log.warning("unsafe database login", problem=refusal(problems))
        return
    raise SettingsError(refusal(problems))


@dataclass(frozen=True)
class Login:
    """A role name and its password (None: the server trusts the connection)."""

    user: str
    password: str | None

    @classmethod
    def of(cls, url: str) -> Login:
        parsed = make_url(url)
        if not parsed.username:
            raise ValueError("the database URL names no user")
        return cls(parsed.username, parsed.password)


def _role_exists(connection: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    found = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    return found is not None


def _create_login(
    connection: psycopg.Connection[tuple[object, ...]], login: Login, *, can_login: bool = True
) -> None:
    query = sql.SQL(
        "CREATE ROLE {} {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION"
    ).format(sql.Identifier(login.user), sql.SQL("LOGIN" if can_login else "NOLOGIN"))
    if login.password:
        query = query + sql.SQL(" PASSWORD {}").format(sql.Literal(login.password))
    connection.execute(query)


def ensure_login(connection: psycopg.Connection[tuple[object, ...]], login: Login) -> None:
    if not _role_exists(connection, login.user):
        _create_login(connection, login)


def ensure_app_group(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    if not _role_exists(connection, APP_ROLE):
        _create_login(connection, Login(APP_ROLE, None), can_login=False)


def ensure_app_login(connection: psycopg.Connection[tuple[object, ...]], app: Login) -> None:
    """The app's login exists and is in ``clinic_app`` (needs a role that may create roles
    when something is missing; nothing is changed when everything is in place)."""
    ensure_login(connection, app)
    if app.user == APP_ROLE:
        return
    ensure_app_group(connection)
    member = connection.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER')", (app.user, APP_ROLE)
    ).fetchone()
    if not (member and member[0]):
        connection.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), sql.Identifier(app.user))
        )


# Everything in the schema that a former owner (the superuser of an older data folder)
# still owns, except what belongs to an extension.
_ADOPT = """
DO $$
DECLARE item record;
BEGIN
  FOR item IN
    SELECT format('ALTER TABLE %s OWNER TO {owner}', c.oid::regclass) AS statement
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
       AND c.relowner <> {owner_literal}::regrole
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO {owner}', p.oid::regprocedure)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.proowner <> {owner_literal}::regrole
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE item.statement;
  END LOOP;
END $$
"""


def provision(maintenance_url: str, database: str, *, owner: Login, app: Login) -> None:
    """As a superuser: the owner and app logins exist, ``database`` and everything in it
    belongs to the owner, and the app is in ``clinic_app``. Idempotent; it also upgrades a
    database whose tables a superuser created (a data folder from before the two roles)."""
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        ensure_login(connection, owner)
        ensure_app_login(connection, app)
        connection.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(owner.user)
            )
        )
    database_url = make_url(maintenance_url).set(database=database)
    with psycopg.connect(database_url.render_as_string(hide_password=False)) as connection:
        adopt = sql.SQL(_ADOPT).format(
            owner=sql.Identifier(owner.user), owner_literal=sql.Literal(owner.user)
        )
        connection.execute(adopt)
