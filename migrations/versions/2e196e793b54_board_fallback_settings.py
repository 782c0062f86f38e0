"""board fallback settings: early in a month the board also shows last month's (or the last 30 days')
standings until this month has board_min_ranked ranked residents (default 10)

Revision ID: 2e196e793b54
Revises: 0d5c3ca9820f
Create Date: 2026-12-02 10:01:42.981777

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2e196e793b54'
down_revision = '0d5c3ca9820f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.add_column(sa.Column('board_min_ranked', sa.Integer(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('board_fallback', sa.String(length=12), server_default='last_month', nullable=False))


def downgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_column('board_fallback')
        batch_op.drop_column('board_min_ranked')
