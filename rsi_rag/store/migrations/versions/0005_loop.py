"""retriever self-improvement loop: training examples with provenance

Revision ID: 0005_loop
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_loop"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("positive_chunk_ids", sa.JSON(), nullable=False),
        sa.Column("negative_chunk_ids", sa.JSON(), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("written_by", sa.String(length=200), nullable=False),
        sa.Column("source_chunk_id", sa.Integer(), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=True),
        sa.Column("feedback_id", sa.Integer(), nullable=True),
        sa.Column("split", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_id"),
    )
    op.create_index(
        "ix_training_examples_collection_status",
        "training_examples",
        ["collection_id", "status"],
    )
    op.create_index(
        "ix_training_examples_cache", "training_examples", ["collection_id", "cache_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_training_examples_cache", table_name="training_examples")
    op.drop_index("ix_training_examples_collection_status", table_name="training_examples")
    op.drop_table("training_examples")
