"""household room index for search: a search by room number alone ("301") reads the community's
households with that room through an index, not all of them

Revision ID: 5a2e3914fed3
Revises: 9606ead17461
Create Date: 2026-12-02 10:00:47.885754

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a2e3914fed3'
down_revision = '9606ead17461'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index('ix_household_community_room', ['community_id', 'room'], unique=False)


def downgrade():
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index('ix_household_community_room')
