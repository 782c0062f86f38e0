"""import jobs run in the background with progress

A sheet of more than a couple of thousand rows is checked and imported by a runner outside the request
(imports.cli.run_job): the job records what it does (task), how far it has got (progress), the bad rows
found (problems, so its page need not read the sheet again), why a run failed (message), and when a
runner claimed it (started_at).

Revision ID: bbdaaaecaafc
Revises: d11b4bd147b5
Create Date: 2026-12-02 06:04:45.903157

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bbdaaaecaafc'
down_revision = 'd11b4bd147b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task', sa.String(length=10), server_default=sa.text("'check'"), nullable=False))
        batch_op.add_column(sa.Column('progress', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('problems', sa.Text(), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('message', sa.Text(), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_column('started_at')
        batch_op.drop_column('message')
        batch_op.drop_column('problems')
        batch_op.drop_column('progress')
        batch_op.drop_column('task')
