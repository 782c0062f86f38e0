"""ledger exports made by the job worker (issue 13): a big export is queued, made by the worker, then
downloaded from its page; the file is deleted after a few days (it names residents)

Revision ID: a0fcd955e15b
Revises: 5a2e3914fed3
Create Date: 2026-12-02 12:43:33.811954

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a0fcd955e15b'
down_revision = '5a2e3914fed3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('end_day', sa.Date(), nullable=False),
    sa.Column('format', sa.String(length=4), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_ledger_export_community_id_community')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_ledger_export_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_export'))
    )
    with op.batch_alter_table('ledger_export', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_export_community', ['community_id', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('ledger_export', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_export_community')

    op.drop_table('ledger_export')
