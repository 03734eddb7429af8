"""the SMS rating channel: outbox (sms_messages), replies (sms_replies), opt-outs (sms_opt_outs)

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-10 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("out_id", sa.String(length=64), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_enc", sa.String(length=256), nullable=True),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        _when("created_at", False),
        _when("sent_at"),
        _when("delivered_at"),
        sa.Column("last_error", sa.String(length=256), nullable=True),
        _when("next_attempt_at"),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_sms_messages_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sms_messages_ticket_id_tickets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("out_id", name=op.f("uq_sms_messages_out_id")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_sms_messages_ticket_id")),
        sa.UniqueConstraint(
            "phone_hash", "local_day", name=op.f("uq_sms_messages_phone_hash_local_day")
        ),
    )
    with op.batch_alter_table("sms_messages") as batch:
        batch.create_index("ix_sms_messages_state_next", ["state", "next_attempt_at"])
        batch.create_index("ix_sms_messages_hall_day", ["hall_id", "local_day"])
    op.create_table(
        "sms_replies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=1024), nullable=False),
        _when("received_at", False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=True),
        sa.Column("evaluation_key", sa.String(length=128), nullable=True),
        _when("created_at", False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_messages.id"],
            name=op.f("fk_sms_replies_message_id_sms_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
        sa.UniqueConstraint(
            "provider", "dedupe_key", name=op.f("uq_sms_replies_provider_dedupe_key")
        ),
    )
    with op.batch_alter_table("sms_replies") as batch:
        batch.create_index("ix_sms_replies_phone_hash", ["phone_hash"])
        batch.create_index("ix_sms_replies_message_id", ["message_id"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        _when("created_at", False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_opt_outs")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_sms_opt_outs_phone_hash")),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    with op.batch_alter_table("sms_replies") as batch:
        batch.drop_index("ix_sms_replies_message_id")
        batch.drop_index("ix_sms_replies_phone_hash")
    op.drop_table("sms_replies")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_index("ix_sms_messages_hall_day")
        batch.drop_index("ix_sms_messages_state_next")
    op.drop_table("sms_messages")
