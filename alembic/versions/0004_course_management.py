"""Course management: TA accounts, audit log, roster fields, lab schedule and quota, idempotency

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ta_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("bootstrap", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ta_account_id", sa.Integer(), nullable=True),
        sa.Column("ta_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ta_account_id"], ["ta_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    with op.batch_alter_table("students") as batch:
        batch.alter_column("token_hash", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("display_name", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("display_name_key", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("display_name_chosen", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_unique_constraint("uq_students_display_name_key", ["display_name_key"])
    _give_pseudonyms()

    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
        batch.create_index("ix_submissions_created_at", ["created_at"])
        batch.create_unique_constraint(
            "uq_submissions_student_idempotency_key", ["student_pk", "idempotency_key"]
        )

    with op.batch_alter_table("lab_settings") as batch:
        batch.add_column(sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("late_policy", sa.String(length=16), nullable=False, server_default="mark_late")
        )
        batch.add_column(sa.Column("daily_quota", sa.Integer(), nullable=True, server_default="20"))


def _give_pseudonyms() -> None:
    """Give every student already on the roster a neutral display name.

    The names are fixed here rather than drawn from ``server.display_names``,
    so this migration gives the same kind of result whatever that module
    becomes. A student can replace theirs at any time.
    """
    connection = op.get_bind()
    students = sa.table(
        "students",
        sa.column("id", sa.Integer()),
        sa.column("display_name", sa.String()),
        sa.column("display_name_key", sa.String()),
    )
    used: set[str] = set()
    for (student_pk,) in connection.execute(sa.select(students.c.id)).all():
        name = f"Student {secrets.token_hex(3).upper()}"
        while name.casefold() in used:  # The key column is unique.
            name = f"Student {secrets.token_hex(3).upper()}"
        used.add(name.casefold())
        connection.execute(
            students.update()
            .where(students.c.id == student_pk)
            .values(display_name=name, display_name_key=name.casefold())
        )


def downgrade() -> None:
    with op.batch_alter_table("lab_settings") as batch:
        batch.drop_column("daily_quota")
        batch.drop_column("late_policy")
        batch.drop_column("opens_at")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("uq_submissions_student_idempotency_key", type_="unique")
        batch.drop_index("ix_submissions_created_at")
        batch.drop_column("request_fingerprint")
        batch.drop_column("idempotency_key")
        batch.drop_column("late")
    with op.batch_alter_table("students") as batch:
        batch.drop_constraint("uq_students_display_name_key", type_="unique")
        batch.drop_column("display_name_chosen")
        batch.drop_column("display_name_key")
        batch.drop_column("display_name")
        batch.drop_column("email")
        batch.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("ta_accounts")
