"""The PostgreSQL role the app connects as: owns nothing, cannot change or remove append-only rows.

Two roles (docs/deploy.md): the owner runs `flask db upgrade` and owns every table; the app role, which
the app servers and workers use, gets SELECT and INSERT on every table, UPDATE and DELETE on every table
but the append-only ones, and USAGE and SELECT on the sequences (nextval for new ids; pg_dump reads them).
It cannot TRUNCATE, ALTER, DROP or disable a trigger (all an owner's rights). The append-only tables also carry a row trigger that
refuses UPDATE and DELETE (migrations d11b4bd147b5 and e7d41c2a9b30), for anyone who does hold the
privilege. `flask --app pointsapp db grant-app-role ROLE` (run as the owner, after each upgrade: new
tables need their grants) sets it up; it is idempotent.
"""
import click
from flask.cli import with_appcontext
from sqlalchemy import text
from sqlalchemy.engine import Connection

# Rows that are only ever inserted (DESIGN.md invariants 5 and 11 and the ledger's hash chain): a change is
# a new row (a reversing entry, an expiry entry, a correcting stock movement). Retention erases a resident's
# own fields and leaves these rows: they name her by id only.
APPEND_ONLY_TABLES = ("ledger_entry", "ledger_checkpoint", "stock_movement", "audit_event")
# Alembic's bookkeeping: the app reads nothing else of the schema's and writes none of it.
READ_ONLY_TABLES = ("alembic_version",)


def _ident(conn: Connection, name: str) -> str:
    return conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one()


def grant_statements(conn: Connection, role: str) -> list[str]:
    """The GRANT/REVOKE statements that give `role` the app's rights on the current schema's tables."""
    who = _ident(conn, role)
    schema = _ident(conn, conn.execute(text("SELECT current_schema()")).scalar_one())
    tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                               "ORDER BY tablename")).scalars().all()
    out = [f"GRANT USAGE ON SCHEMA {schema} TO {who}",
           f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
           f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
           # USAGE: nextval for new ids; SELECT: read a sequence's position, which pg_dump does (backups)
           f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"]
    for table in tables:
        name = f"{schema}.{_ident(conn, table)}"
        if table in READ_ONLY_TABLES:
            out.append(f"GRANT SELECT ON {name} TO {who}")
        elif table in APPEND_ONLY_TABLES:
            out.append(f"GRANT SELECT, INSERT ON {name} TO {who}")
        else:
            out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {who}")
    # tables a later migration adds: readable and insertable at once, the rest when this is run again
    out += [f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT ON TABLES TO {who}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {who}"]
    return out


def problems_with(conn: Connection, role: str) -> list[str]:
    """Why `role` cannot be the restricted app role (empty when it can)."""
    row = conn.execute(text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                            "WHERE rolname = :r"), {"r": role}).first()
    if row is None:
        return [f"role {role} does not exist: CREATE ROLE {role} LOGIN NOINHERIT (as a superuser)"]
    found = [f"role {role} is {what}" for what, flag in
             zip(("a superuser", "BYPASSRLS", "CREATEROLE", "CREATEDB"), row, strict=True) if flag]
    owned = conn.execute(text("SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                              "WHERE r.rolname = :r AND c.relnamespace = current_schema()::regnamespace "
                              "AND c.relkind IN ('r', 'p') "
                              "ORDER BY 1"), {"r": role}).scalars().all()
    if owned:
        found.append(f"role {role} owns {', '.join(owned[:5])}{' …' if len(owned) > 5 else ''}: "
                     "the tables must belong to the role that runs migrations")
    if role == conn.execute(text("SELECT current_user")).scalar_one():
        found.append(f"role {role} is the role running this command (the owner): use a second role")
    elif conn.execute(text("SELECT pg_has_role(:r, current_user, 'MEMBER')"), {"r": role}).scalar():
        found.append(f"role {role} is a member of the owner's role: it could SET ROLE to the owner")
    return found


def grant_app_role(conn: Connection, role: str) -> list[str]:
    """Grant the app role its rights; returns the statements run. Raises ValueError naming what makes the
    role unfit (missing, a superuser, an owner of tables, the owner itself). Creating the role and setting
    its password are the superuser's (CREATEROLE), not the owner's: docs/deploy.md."""
    problems = problems_with(conn, role)
    if problems:
        raise ValueError("; ".join(problems))
    who = _ident(conn, role)
    database = _ident(conn, conn.execute(text("SELECT current_database()")).scalar_one())
    statements = [f"GRANT CONNECT ON DATABASE {database} TO {who}", *grant_statements(conn, role)]
    for statement in statements:
        conn.execute(text(statement))
    return statements


@click.command("grant-app-role")
@click.argument("role")
@click.option("--show", is_flag=True, help="Print the statements run.")
@with_appcontext
def grant_app_role_command(role: str, show: bool) -> None:
    """Give ROLE the app's rights on this database (run as the owner, after each `db upgrade`): SELECT and
    INSERT everywhere, UPDATE and DELETE except on the append-only tables (ledger, checkpoints, stock log,
    audit log), USAGE and SELECT on sequences. ROLE must exist, own nothing and not be a superuser."""
    from pointsapp.core.extensions import db

    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("grant-app-role is for PostgreSQL (DATABASE_URL); SQLite has no roles")
    try:
        with db.engine.begin() as conn:
            statements = grant_app_role(conn, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if show:
        for statement in statements:
            click.echo(statement + ";")
    append_only = ", ".join(APPEND_ONLY_TABLES)
    click.echo(f"{role}: SELECT, INSERT on every table; UPDATE, DELETE on all but {append_only}; "
               "USAGE, SELECT on sequences")


def init_app(_app) -> None:
    """`flask db grant-app-role`: a subcommand of Flask-Migrate's `db` group (both are the database's
    setup, run by the owner)."""
    from flask_migrate.cli import db as db_group

    if "grant-app-role" not in db_group.commands:
        db_group.add_command(grant_app_role_command)
