"""signals: expected rates, signals, scan runs, halt decisions

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-25 12:00:00.000000

Also an index on the registry's dose table (lot_id, site_id): the scan's denominators
(doses per lot and site, one pass) and the halt banner ("has this site doses of the lot?")
read it. Declared in aefi/signals/models.py.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import aefi.db


revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cv_cache',
    sa.Column('upper_limit', sa.Float(), nullable=False),
    sa.Column('alpha', sa.Float(), nullable=False),
    sa.Column('min_events', sa.Integer(), nullable=False),
    sa.Column('cv', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('upper_limit', 'alpha', 'min_events')
    )
    op.create_table('expected_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vaccine_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('event_group', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('rate_per_dose', sa.Float(), nullable=False),
    sa.Column('window_start_days', sa.Float(), nullable=False),
    sa.Column('window_end_days', sa.Float(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('updated_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vaccine_code', 'event_group')
    )
    op.create_table('scan_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('full', sa.Boolean(), nullable=False),
    sa.Column('started_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('signals', sa.Integer(), nullable=False),
    sa.Column('new_signals', sa.Integer(), nullable=False),
    sa.Column('halt_recommendations', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('top', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_scan_run_started_at'), 'scan_run', ['started_at'], unique=False)
    op.create_table('halt_counter',
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('county_id', 'year', 'kind')
    )
    op.create_table('signal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('vaccine_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('event_group', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('doses', sa.Integer(), nullable=False),
    sa.Column('rate_per_dose', sa.Float(), nullable=True),
    sa.Column('window_start_days', sa.Float(), nullable=True),
    sa.Column('window_end_days', sa.Float(), nullable=True),
    sa.Column('statistic', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('oe_ratio', sa.Float(), nullable=True),
    sa.Column('oe_lower', sa.Float(), nullable=True),
    sa.Column('oe_upper', sa.Float(), nullable=True),
    sa.Column('upper_limit', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('held_lot', sa.Boolean(), nullable=False),
    sa.Column('status_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('first_detected_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('level_changed_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_scanned_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.ForeignKeyConstraint(['vaccine_id'], ['vaccine.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'target_id', 'event_group', 'method')
    )
    op.create_index(op.f('ix_signal_level'), 'signal', ['level'], unique=False)
    op.create_index(op.f('ix_signal_lot_id'), 'signal', ['lot_id'], unique=False)
    op.create_index(op.f('ix_signal_site_id'), 'signal', ['site_id'], unique=False)
    op.create_index('ix_signal_status_strength', 'signal', ['status', 'strength'], unique=False)
    op.create_index(op.f('ix_signal_vaccine_id'), 'signal', ['vaccine_id'], unique=False)
    if True:  # noqa: SIM108 - halt decisions, kept indented as generated
        op.create_table('halt_decision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('target_label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('signal_ids', sa.JSON(), nullable=False),
        sa.Column('cluster_ids', sa.JSON(), nullable=False),
        sa.Column('report_ids', sa.JSON(), nullable=False),
        sa.Column('effective_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('applied_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('issued_at', aefi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('issued_by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('previous_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('previous_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('lift_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('lifted_at', aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('lifted_by_id', sa.Integer(), nullable=True),
        sa.Column('lifted_by_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('lift_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
        sa.ForeignKeyConstraint(['issued_by_id'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['lifted_by_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('county_id', 'number')
        )
        op.create_index('ix_halt_active', 'halt_decision', ['county_id', 'lifted_at'], unique=False)
    op.create_index('ix_dose_lot_site', 'dose', ['lot_id', 'site_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dose_lot_site', table_name='dose')
    op.drop_index('ix_halt_active', table_name='halt_decision')
    op.drop_table('halt_decision')
    op.drop_index(op.f('ix_signal_vaccine_id'), table_name='signal')
    op.drop_index('ix_signal_status_strength', table_name='signal')
    op.drop_index(op.f('ix_signal_site_id'), table_name='signal')
    op.drop_index(op.f('ix_signal_lot_id'), table_name='signal')
    op.drop_index(op.f('ix_signal_level'), table_name='signal')
    op.drop_table('signal')
    op.drop_table('halt_counter')
    op.drop_index(op.f('ix_scan_run_started_at'), table_name='scan_run')
    op.drop_table('scan_run')
    op.drop_table('expected_rate')
    op.drop_table('cv_cache')
