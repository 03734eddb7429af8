"""citizens' phone numbers encrypted (tickets.phone_enc) and hashed (tickets.phone_hash);
an audit table of unmasked reads (phone_reads)

Existing clear numbers are moved into the encrypted and hashed columns with the key of the
server settings (HALLRATE_PHONE_KEY, else the token secret): run the upgrade with the same
environment as the server. The downgrade decrypts them back into tickets.phone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_tickets = sa.table(
    "tickets",
    sa.column("id", sa.BigInteger()),
    sa.column("phone", sa.String()),
    sa.column("phone_enc", sa.String()),
    sa.column("phone_hash", sa.String()),
)
_BATCH = 1000


def _cipher() -> Any:
    from server.config import Settings

    return Settings().phone_cipher


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("phone_enc", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_tickets_phone_hash", ["phone_hash"], unique=False)
    conn = op.get_bind()
    clear = sa.select(_tickets.c.id, _tickets.c.phone).where(
        _tickets.c.phone.is_not(None), _tickets.c.phone != ""
    )
    rows = conn.execute(clear.order_by(_tickets.c.id)).all()
    if rows:
        cipher = _cipher()
        for start in range(0, len(rows), _BATCH):
            for ticket_id, phone in rows[start : start + _BATCH]:
                enc, digest = cipher.seal(phone)
                conn.execute(
                    _tickets.update()
                    .where(_tickets.c.id == ticket_id)
                    .values(phone_enc=enc, phone_hash=digest)
                )
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("phone")

    op.create_table(
        "phone_reads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_phone_reads_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_phone_reads_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_reads")),
    )
    with op.batch_alter_table("phone_reads") as batch:
        batch.create_index("ix_phone_reads_hall_id", ["hall_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("phone_reads") as batch:
        batch.drop_index("ix_phone_reads_hall_id")
    op.drop_table("phone_reads")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_tickets.c.id, _tickets.c.phone_enc).where(_tickets.c.phone_enc.is_not(None))
    ).all()
    if rows:
        cipher = _cipher()
        for ticket_id, enc in rows:
            conn.execute(
                _tickets.update()
                .where(_tickets.c.id == ticket_id)
                .values(phone=cipher.decrypt(enc)[:32])
            )
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_phone_hash")
        batch.drop_column("phone_hash")
        batch.drop_column("phone_enc")
