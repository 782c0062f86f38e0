"""counter identifications used once by their checkout

A resident identified at a counter is a row the checkout consumes (issue 11, finding 2): the clerk's session
holds only its id, so a saved cookie, another clerk or store, or an old identification charges nothing.

Revision ID: 8f9b0f7ab6d6
Revises: cc180bda13de
Create Date: 2026-12-02 06:02:25.006335

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8f9b0f7ab6d6'
down_revision = 'cc180bda13de'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('counter_identification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('consumed_at', sa.DateTime(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("method IN ('phone_code', 'card_pin', 'search')", name=op.f('ck_counter_identification_method_known')),
    sa.CheckConstraint('redemption_id IS NULL OR consumed_at IS NOT NULL', name=op.f('ck_counter_identification_consumed_by_its_redemption')),
    sa.ForeignKeyConstraint(['clerk_id'], ['user.id'], name=op.f('fk_counter_identification_clerk_id_user')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_counter_identification_community_id_community')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_counter_identification_redemption_id_redemption')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_counter_identification_resident_id_resident')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_counter_identification_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_identification'))
    )
    with op.batch_alter_table('counter_identification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_identification_resident_id'), ['resident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('counter_identification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_identification_resident_id'))

    op.drop_table('counter_identification')
