"""incidents: tickets linked to a major incident, broadcasts and their delivery

Revision ID: 0005_incidents
Revises: 0004_solutions
Create Date: 2026-12-06 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_incidents"
down_revision: str | None = "0004_solutions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("major", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("incident_title", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.create_index("ix_tickets_parent", ["parent_id"], unique=False)
        batch_op.create_index(
            "ix_tickets_major_category", ["major", "category", "status"], unique=False
        )

    op.create_table(
        "broadcasts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index("ix_broadcasts_ticket", ["ticket_id", "id"], unique=False)

    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("broadcast_id", "platform", "chat"),
    )


def downgrade() -> None:
    op.drop_table("broadcast_recipients")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcasts_ticket")
    op.drop_table("broadcasts")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_major_category")
        batch_op.drop_index("ix_tickets_parent")
        batch_op.drop_column("incident_title")
        batch_op.drop_column("major")
        batch_op.drop_column("parent_id")
