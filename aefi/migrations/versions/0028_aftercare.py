"""after the vaccinee leaves: check-in answers, the self-report queue, a vaccine's check-in
days and a hospital's address (issue 17)

Revision ID: 0028_aftercare
Revises: 0022_merge_upstream_board
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0028_aftercare"
down_revision = "0022_merge_upstream_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vaccine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkin_days", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("hospital", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address", sa.String(length=300), nullable=False, server_default="")
        )
    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dose_id", sa.Integer(), sa.ForeignKey("dose.id"), nullable=False),
        sa.Column("county_id", sa.Integer(), sa.ForeignKey("region.id"), nullable=False),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("site.id"), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("symptoms", sa.String(length=300), nullable=False),
        sa.Column("onset_on", sa.Date(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("seen_doctor", sa.Boolean(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("red_flags", sa.String(length=200), nullable=False),
        sa.Column("answered_at", aefi.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_checkin_dose_id", "checkin", ["dose_id"])
    op.create_index("ix_checkin_county_id", "checkin", ["county_id"])
    op.create_index("ix_checkin_site_id", "checkin", ["site_id"])
    op.create_table(
        "self_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("checkin_id", sa.Integer(), sa.ForeignKey("checkin.id"), nullable=False),
        sa.Column("dose_id", sa.Integer(), sa.ForeignKey("dose.id"), nullable=False),
        sa.Column("county_id", sa.Integer(), sa.ForeignKey("region.id"), nullable=False),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("site.id"), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("report.id"), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("decided_at", aefi.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", aefi.db.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("checkin_id"),
    )
    op.create_index("ix_self_report_dose_id", "self_report", ["dose_id"])
    op.create_index("ix_self_report_county_id", "self_report", ["county_id"])
    op.create_index("ix_self_report_site_id", "self_report", ["site_id"])
    op.create_index("ix_self_report_status", "self_report", ["status"])
    op.create_table(
        "sms_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dose_id", sa.Integer(), sa.ForeignKey("dose.id"), nullable=False),
        sa.Column("county_id", sa.Integer(), sa.ForeignKey("region.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("to_number", sa.String(length=40), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", aefi.db.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", aefi.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", aefi.db.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("dose_id", "day", "kind"),
    )
    op.create_index("ix_sms_message_dose_id", "sms_message", ["dose_id"])
    op.create_index("ix_sms_message_county_id", "sms_message", ["county_id"])
    op.create_index("ix_sms_message_status", "sms_message", ["status"])
    op.create_table(
        "checkin_invite",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dose_id", sa.Integer(), sa.ForeignKey("dose.id"), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("at", aefi.db.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("dose_id"),
    )


def downgrade() -> None:
    op.drop_table("checkin_invite")
    op.drop_table("sms_message")
    op.drop_table("self_report")
    op.drop_table("checkin")
    with op.batch_alter_table("hospital", schema=None) as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("vaccine", schema=None) as batch_op:
        batch_op.drop_column("checkin_days")
