"""separation of duties for earning: award ceiling, caps, attendance holds

Revision ID: cc180bda13de
Revises: 23c30c2b5bd0
Create Date: 2026-12-02 05:58:51.454505

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cc180bda13de'
down_revision = '23c30c2b5bd0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold', sa.String(length=10), server_default='', nullable=False))
        batch_op.create_index('ix_attendance_review', ['community_id', 'status', 'hold'], unique=False)
        batch_op.create_check_constraint(batch_op.f('ck_attendance_hold_known'),
                                         "hold IN ('', 'self', 'manual', 'ceiling')")

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.add_column(sa.Column('award_ceiling', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('earn_cap_day', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('earn_cap_month', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_community_award_ceiling_positive'), 'award_ceiling > 0')
        batch_op.create_check_constraint(batch_op.f('ck_community_cap_day_positive'),
                                         'earn_cap_day IS NULL OR earn_cap_day > 0')
        batch_op.create_check_constraint(batch_op.f('ck_community_cap_month_positive'),
                                         'earn_cap_month IS NULL OR earn_cap_month > 0')



def downgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_community_cap_month_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_community_cap_day_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_community_award_ceiling_positive'), type_='check')
        batch_op.drop_column('earn_cap_month')
        batch_op.drop_column('earn_cap_day')
        batch_op.drop_column('award_ceiling')

    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_attendance_hold_known'), type_='check')
        batch_op.drop_index('ix_attendance_review')
        batch_op.drop_column('hold')

