"""audit log (append-only), consent at activation, personal data retention

On PostgreSQL a trigger refuses UPDATE and DELETE on audit_event, whoever asks (the code has no such
path either; on SQLite the mapper refuses them). TRUNCATE is an owner's operation and not refused:
the application's database role should not own the tables (docs/privacy.md).

Revision ID: d11b4bd147b5
Revises: 8f9b0f7ab6d6
Create Date: 2026-12-02 06:01:50.368872

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd11b4bd147b5'
down_revision = '8f9b0f7ab6d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject_type', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_audit_event_actor_id_user')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_audit_event_community_id_community')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_audit_event_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_actor', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_community_action', ['community_id', 'action', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_community_newest', ['community_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_resident', ['community_id', 'resident_id', 'id'], unique=False)

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_years', sa.Integer(), server_default='3', nullable=False))

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('consent_version', sa.String(length=20), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('consent_version')
        batch_op.drop_column('consent_at')

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_column('erased_at')

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_column('retention_years')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_resident')
        batch_op.drop_index('ix_audit_event_community_newest')
        batch_op.drop_index('ix_audit_event_community_action')
        batch_op.drop_index('ix_audit_event_actor')

    op.drop_table('audit_event')
