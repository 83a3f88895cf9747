"""evaluation: frozen evaluation sets and their examples

Revision ID: 0004_evaluation
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_evaluation"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("num_examples", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection_id", "name", name="uq_evaluation_set_name"),
    )
    op.create_index(
        "ix_evaluation_sets_collection_id", "evaluation_sets", ["collection_id"], unique=False
    )
    op.create_table(
        "frozen_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("example_id", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("doc_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"]),
        sa.ForeignKeyConstraint(["set_id"], ["evaluation_sets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("set_id", "example_id", name="uq_frozen_example"),
    )
    op.create_index("ix_frozen_examples_fingerprint", "frozen_examples", ["fingerprint"])
    op.create_index("ix_frozen_examples_set_id", "frozen_examples", ["set_id"])


def downgrade() -> None:
    op.drop_index("ix_frozen_examples_set_id", table_name="frozen_examples")
    op.drop_index("ix_frozen_examples_fingerprint", table_name="frozen_examples")
    op.drop_table("frozen_examples")
    op.drop_index("ix_evaluation_sets_collection_id", table_name="evaluation_sets")
    op.drop_table("evaluation_sets")
