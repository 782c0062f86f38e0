"""signup cut-off and cancelled sign-ups: activity.signup_closes_minutes (报名截止, minutes before the start;
existing activities get 2 hours) and signup.cancelled_at (取消报名 keeps the one row per activity and resident)

Revision ID: 0d5c3ca9820f
Revises: 4b70d1778d89
Create Date: 2026-12-02 09:57:25.760203

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0d5c3ca9820f'
down_revision = '4b70d1778d89'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signup_closes_minutes', sa.Integer(), server_default='120', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_activity_signup_closes_not_negative'),
                                         'signup_closes_minutes >= 0')

    with op.batch_alter_table('signup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('signup', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activity_signup_closes_not_negative'), type_='check')
        batch_op.drop_column('signup_closes_minutes')

