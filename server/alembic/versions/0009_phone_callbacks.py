"""the phone call-back channel: worklists, entries, attempts, opt-outs, agents' halls, and
working-day overrides (calendar_days)

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-14 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    op.create_table(
        "callback_opt_outs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_opt_outs")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_callback_opt_outs_phone_hash")),
    )
    op.create_table(
        "callback_worklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("served_from", sa.Date(), nullable=False),
        sa.Column("served_to", sa.Date(), nullable=False),
        sa.Column("work_day", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.Text(), nullable=False),
        sa.Column("frame_sha256", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("reserves", sa.Integer(), nullable=False),
        sa.Column("calendar_provisional", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_callback_worklists_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_worklists")),
        sa.UniqueConstraint("key", name=op.f("uq_callback_worklists_key")),
    )
    with op.batch_alter_table("callback_worklists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_worklists_hall_id"), ["hall_id"], unique=False
        )

    op.create_table(
        "agent_halls",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_agent_halls_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_halls_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "hall_id", name=op.f("pk_agent_halls")),
    )
    op.create_table(
        "callback_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("worklist_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("source_evaluation_id", sa.BigInteger(), nullable=True),
        sa.Column("stratum", sa.String(length=64), nullable=False),
        sa.Column("reserve", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("next_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("evaluation_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_callback_entries_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_callback_entries_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_callback_entries_ticket_id_tickets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["worklist_id"],
            ["callback_worklists.id"],
            name=op.f("fk_callback_entries_worklist_id_callback_worklists"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_entries")),
        sa.UniqueConstraint(
            "worklist_id", "ticket_id", name=op.f("uq_callback_entries_worklist_id_ticket_id")
        ),
    )
    with op.batch_alter_table("callback_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_entries_agent_state", ["agent_id", "state"], unique=False
        )
        batch_op.create_index("ix_callback_entries_hall_state", ["hall_id", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_callback_entries_phone_hash"), ["phone_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_callback_entries_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_callback_entries_worklist_id"), ["worklist_id"], unique=False
        )

    op.create_table(
        "callback_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=True),
        sa.Column("reasons", sa.String(length=256), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("next_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["callback_entries.id"],
            name=op.f("fk_callback_attempts_entry_id_callback_entries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_callback_attempts_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint(
            "entry_id", "attempt_key", name=op.f("uq_callback_attempts_entry_id_attempt_key")
        ),
    )
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_attempts_entry_id"), ["entry_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempts_entry_id"))

    op.drop_table("callback_attempts")
    with op.batch_alter_table("callback_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_entries_worklist_id"))
        batch_op.drop_index(batch_op.f("ix_callback_entries_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_callback_entries_phone_hash"))
        batch_op.drop_index("ix_callback_entries_hall_state")
        batch_op.drop_index("ix_callback_entries_agent_state")

    op.drop_table("callback_entries")
    op.drop_table("agent_halls")
    with op.batch_alter_table("callback_worklists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_worklists_hall_id"))

    op.drop_table("callback_worklists")
    op.drop_table("callback_opt_outs")
    op.drop_table("calendar_days")
