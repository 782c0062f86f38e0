"""residents: kept logins ("keep me logged in"), the office's opening hours, residents' queries (疑问)

Revision ID: 9606ead17461
Revises: 2e196e793b54
Create Date: 2026-12-02 10:00:55.091646

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9606ead17461'
down_revision = '2e196e793b54'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('points_query',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('proposed_points', sa.Integer(), nullable=True),
    sa.Column('correction_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('attendance_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'entry' AND entry_id IS NOT NULL) OR (kind = 'missed' AND activity_id IS NOT NULL)", name=op.f('ck_points_query_query_names_its_subject')),
    sa.CheckConstraint('proposed_points IS NULL OR proposed_points > 0', name=op.f('ck_points_query_proposed_points_positive')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_points_query_activity_id_activity')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user.id'], name=op.f('fk_points_query_answered_by_id_user')),
    sa.ForeignKeyConstraint(['attendance_id'], ['attendance.id'], name=op.f('fk_points_query_attendance_id_attendance')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_points_query_community_id_community')),
    sa.ForeignKeyConstraint(['correction_entry_id'], ['ledger_entry.id'], name=op.f('fk_points_query_correction_entry_id_ledger_entry')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_points_query_entry_id_ledger_entry')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['user.id'], name=op.f('fk_points_query_raised_by_id_user')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_points_query_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_query'))
    )
    with op.batch_alter_table('points_query', schema=None) as batch_op:
        batch_op.create_index('ix_points_query_activity', ['activity_id'], unique=False)
        batch_op.create_index('ix_points_query_queue', ['community_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_points_query_resident', ['resident_id', 'id'], unique=False)

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.add_column(sa.Column('office_hours', sa.String(length=100), server_default='', nullable=False))

    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_kept', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade():
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_column('is_kept')

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_column('office_hours')

    with op.batch_alter_table('points_query', schema=None) as batch_op:
        batch_op.drop_index('ix_points_query_resident')
        batch_op.drop_index('ix_points_query_queue')
        batch_op.drop_index('ix_points_query_activity')

    op.drop_table('points_query')
