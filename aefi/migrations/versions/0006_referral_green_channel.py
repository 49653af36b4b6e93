"""referral: green-channel referrals (one row per hospital asked)

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-25 11:50:41.435254
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import aefi.db


revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('leg', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('urgency', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('triage_reasons', sa.JSON(), nullable=False),
    sa.Column('adrenaline_mg', sa.Float(), nullable=True),
    sa.Column('adrenaline_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('treatment_given', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('vitals_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bp_systolic', sa.Integer(), nullable=True),
    sa.Column('bp_diastolic', sa.Integer(), nullable=True),
    sa.Column('heart_rate', sa.Integer(), nullable=True),
    sa.Column('resp_rate', sa.Integer(), nullable=True),
    sa.Column('spo2', sa.Integer(), nullable=True),
    sa.Column('temperature_c', sa.Float(), nullable=True),
    sa.Column('consciousness', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('transport', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('contact_phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('family_contact', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sent_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalated_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('admitted_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('ward', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('decline_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('withdraw_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('diagnosis', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('patient_outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('transferred_to', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('outcome_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospital.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['referral.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_county_sent', ['county_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_referral_hospital_status', ['hospital_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_status'))
        batch_op.drop_index(batch_op.f('ix_referral_site_id'))
        batch_op.drop_index(batch_op.f('ix_referral_report_id'))
        batch_op.drop_index('ix_referral_hospital_status')
        batch_op.drop_index('ix_referral_county_sent')

    op.drop_table('referral')
