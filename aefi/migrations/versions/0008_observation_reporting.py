"""observation board entries, daily reports, follow-up contacts

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-25 11:51:02.472422
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import aefi.db


revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('report_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('dose_lines', sa.JSON(), nullable=False),
    sa.Column('doses', sa.Integer(), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('released', sa.Integer(), nullable=False),
    sa.Column('left_early', sa.Integer(), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('serious', sa.Integer(), nullable=False),
    sa.Column('referrals', sa.Integer(), nullable=False),
    sa.Column('computed', sa.JSON(), nullable=False),
    sa.Column('corrected', sa.JSON(), nullable=False),
    sa.Column('remark', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('submitted_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('deadline_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'report_on', 'version')
    )
    with op.batch_alter_table('daily_report', schema=None) as batch_op:
        batch_op.create_index('ix_daily_report_county_day', ['county_id', 'report_on'], unique=False)

    op.create_table('follow_up_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], ),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('follow_up_contact', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_contact_lot_person', ['lot_id', 'person_id'], unique=False)

    op.create_table('observation_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('vaccine_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('checked_in_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_in_by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('released_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('left_early_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('reaction_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['closed_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.ForeignKeyConstraint(['vaccine_id'], ['vaccine.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dose_id')
    )
    with op.batch_alter_table('observation_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observation_entry_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_observation_site_checked_in', ['site_id', 'checked_in_at'], unique=False)

    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.create_index('ix_dose_site_time_lot', ['site_id', 'administered_at', 'lot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_index('ix_dose_site_time_lot')
    with op.batch_alter_table('observation_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_observation_site_checked_in')
        batch_op.drop_index(batch_op.f('ix_observation_entry_person_id'))
    op.drop_table('observation_entry')
    with op.batch_alter_table('follow_up_contact', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_up_contact_lot_person')
    op.drop_table('follow_up_contact')
    with op.batch_alter_table('daily_report', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_report_county_day')
    op.drop_table('daily_report')
