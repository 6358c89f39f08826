"""known solutions, saved replies, offers and intake starts; the solutions' full-text index

Revision ID: 0004_solutions
Revises: 0004
Create Date: 2026-12-06 11:40:00

The full-text index is the backend's own table ``solutions_fts``, one row per active solution
(rowid = solutions.id), written by storage/solutions.py: an FTS5 table on SQLite (with the
categories as a column, so the category filter runs inside the index), a table of weighted
tsvectors with a GIN index on PostgreSQL. It is not in the models' metadata;
storage.migrate.include_name keeps it out of schema comparisons.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_solutions"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "solutions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "solution_categories",
        sa.Column("solution_id", BIG_ID, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["solution_id"], ["solutions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("solution_id", "category"),
    )
    op.create_index(
        "ix_solution_categories_category", "solution_categories", ["category", "solution_id"]
    )
    op.create_table(
        "saved_replies",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "intake_starts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intake_starts_at", "intake_starts", ["at"])
    op.create_table(
        "solution_offers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("requester_platform", sa.String(length=16), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("solution_id", BIG_ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["solution_id"], ["solutions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_solution_offers_decided", "solution_offers", ["outcome", "decided_at"])
    op.create_index("ix_solution_offers_ticket", "solution_offers", ["ticket_id"])
    op.create_table(
        "solution_offer_items",
        sa.Column("offer_id", BIG_ID, nullable=False),
        sa.Column("solution_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["offer_id"], ["solution_offers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["solution_id"], ["solutions.id"]),
        sa.PrimaryKeyConstraint("offer_id", "solution_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE solutions_fts (rowid BIGINT PRIMARY KEY "
            "REFERENCES solutions (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_solutions_fts_document ON solutions_fts USING gin (document)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE solutions_fts USING fts5(categories, keywords, title, answer, "
            "tokenize = \"unicode61 remove_diacritics 2 tokenchars '_'\")"
        )


def downgrade() -> None:
    op.execute("DROP TABLE solutions_fts")
    op.drop_table("solution_offer_items")
    op.drop_index("ix_solution_offers_ticket", table_name="solution_offers")
    op.drop_index("ix_solution_offers_decided", table_name="solution_offers")
    op.drop_table("solution_offers")
    op.drop_index("ix_intake_starts_at", table_name="intake_starts")
    op.drop_table("intake_starts")
    op.drop_table("saved_replies")
    op.drop_index("ix_solution_categories_category", table_name="solution_categories")
    op.drop_table("solution_categories")
    op.drop_table("solutions")
