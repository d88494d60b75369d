"""Identification: token accounts, concurrency and labels; token locations; local list state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # batch: SQLite cannot add constraints to an existing table, so it is copied
    with op.batch_alter_table("id_tokens") as batch:
        batch.add_column(sa.Column("account_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("max_concurrent_tx", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("label", sa.String(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_id_tokens_account_id_payment_accounts"),
            "payment_accounts",
            ["account_id"],
            ["id"],
        )
        batch.create_check_constraint(
            op.f("ck_id_tokens_status"), "status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')"
        )
        batch.create_check_constraint(
            op.f("ck_id_tokens_max_concurrent_tx"), "max_concurrent_tx >= 1"
        )
    op.create_index(op.f("ix_id_tokens_group_id"), "id_tokens", ["group_id"], unique=False)
    op.create_index(op.f("ix_id_tokens_account_id"), "id_tokens", ["account_id"], unique=False)

    op.create_table(
        "id_token_locations",
        sa.Column("id_token", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.CheckConstraint("evse_id >= 0", name=op.f("ck_id_token_locations_evse_id")),
        sa.ForeignKeyConstraint(
            ["id_token"],
            ["id_tokens.id_token"],
            name=op.f("fk_id_token_locations_id_token_id_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "id_token", "charge_point_id", "evse_id", name=op.f("pk_id_token_locations")
        ),
    )
    op.create_table(
        "local_auth_lists",
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("synced_at", TIMESTAMP, nullable=True),
        sa.Column("cache_clear_pending", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_local_auth_lists")),
    )
    op.create_table(
        "local_auth_list_entries",
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("id_token", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint(
            "charge_point_id", "id_token", name=op.f("pk_local_auth_list_entries")
        ),
    )


def downgrade() -> None:
    op.drop_table("local_auth_list_entries")
    op.drop_table("local_auth_lists")
    op.drop_table("id_token_locations")
    op.drop_index(op.f("ix_id_tokens_account_id"), table_name="id_tokens")
    op.drop_index(op.f("ix_id_tokens_group_id"), table_name="id_tokens")
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_constraint(op.f("ck_id_tokens_max_concurrent_tx"), type_="check")
        batch.drop_constraint(op.f("ck_id_tokens_status"), type_="check")
        batch.drop_constraint(op.f("fk_id_tokens_account_id_payment_accounts"), type_="foreignkey")
        batch.drop_column("label")
        batch.drop_column("max_concurrent_tx")
        batch.drop_column("account_id")
