"""append-only on PostgreSQL: ledger entries, checkpoints and the stock movement log, as the audit log

A row trigger refuses UPDATE and DELETE on ledger_entry, ledger_checkpoint and stock_movement, whoever
asks (the audit log has had one since d11b4bd147b5). Nothing in the app changes or removes these rows:
a correction is a new reversing entry, expiry is a new entry, personal-data retention erases the
resident's own fields and leaves her ledger (it names her by id only). The trigger is the second line:
the app's own role is not granted UPDATE or DELETE on them at all (`flask db grant-app-role`,
docs/deploy.md). A table owner can still DISABLE the trigger or TRUNCATE: the owner runs migrations,
the app never connects as it. SQLite: nothing (the mapper and the ledger's hash chain guard it there).

Revision ID: e7d41c2a9b30
Revises: a0fcd955e15b
Create Date: 2026-12-02 12:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e7d41c2a9b30'
down_revision = 'a0fcd955e15b'
branch_labels = None
depends_on = None

TABLES = ("ledger_entry", "ledger_checkpoint", "stock_movement")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION refuse_change_of_append_only_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only_row()""")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS refuse_change_of_append_only_row()")
