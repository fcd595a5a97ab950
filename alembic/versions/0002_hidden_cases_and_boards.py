"""Grade on hidden cases: lab settings, submission scores and case feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SUBMISSION_SCORES = ("public_gap", "public_ert", "hidden_mean_gap", "hidden_ert", "solved_fraction")


def upgrade() -> None:
    op.create_table(
        "lab_settings",
        sa.Column("lab_id", sa.String(length=32), nullable=False),
        sa.Column("hidden_cases", sa.Integer(), nullable=False),
        sa.Column("hidden_seeds", sa.JSON(), nullable=False),
        sa.Column("leaderboard", sa.Boolean(), nullable=False),
        sa.Column("board_rule", sa.String(length=16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lab_id"),
    )
    with op.batch_alter_table("submissions") as batch:
        for name in SUBMISSION_SCORES:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))
    with op.batch_alter_table("case_results") as batch:
        batch.add_column(sa.Column("feedback", sa.String(length=32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("case_results") as batch:
        batch.drop_column("feedback")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("summary")
        for name in SUBMISSION_SCORES:
            batch.drop_column(name)
    op.drop_table("lab_settings")
