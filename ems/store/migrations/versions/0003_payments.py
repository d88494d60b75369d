"""Payments: ledger accounts, balanced journals and entries, holds, payments, idempotency keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_accounts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("held_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('wallet', 'fleet', 'cash', 'revenue', 'refunds', 'adjustments', 'card')",
            name=op.f("ck_payment_accounts_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_payment_accounts_status")),
        sa.CheckConstraint("held_minor >= 0", name=op.f("ck_payment_accounts_held")),
        sa.CheckConstraint(
            "credit_limit_minor = 0 OR (kind = 'fleet' AND credit_limit_minor > 0)",
            name=op.f("ck_payment_accounts_credit_limit"),
        ),
        sa.CheckConstraint(
            "kind NOT IN ('wallet', 'fleet') "
            "OR balance_minor - held_minor + credit_limit_minor >= 0",
            name=op.f("ck_payment_accounts_funds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_accounts")),
    )
    op.create_index(op.f("ix_payment_accounts_kind"), "payment_accounts", ["kind"], unique=False)

    op.create_table(
        "payment_idempotency_keys",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("request_hash", sa.String(), nullable=False),
        sa.Column("result_id", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_payment_idempotency_keys")),
    )

    op.create_table(
        "payment_journals",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("hold_id", sa.String(), nullable=True),
        sa.Column("payment_id", sa.String(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('top_up', 'adjustment', 'capture', 'refund')",
            name=op.f("ck_payment_journals_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_journals")),
    )
    op.create_index(
        op.f("ix_payment_journals_payment_id"), "payment_journals", ["payment_id"], unique=False
    )

    op.create_table(
        "payment_entries",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_payment_entries_amount")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payment_accounts.id"],
            name=op.f("fk_payment_entries_account_id_payment_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["payment_journals.id"],
            name=op.f("fk_payment_entries_journal_id_payment_journals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_entries")),
    )
    op.create_index(
        op.f("ix_payment_entries_account_id_id"),
        "payment_entries",
        ["account_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payment_entries_journal_id"), "payment_entries", ["journal_id"], unique=False
    )

    op.create_table(
        "payment_holds",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("payment_method", sa.String(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("captured_minor", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.String(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'captured', 'voided', 'expired')",
            name=op.f("ck_payment_holds_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_holds_amount")),
        sa.CheckConstraint(
            "captured_minor IS NULL OR captured_minor BETWEEN 0 AND amount_minor",
            name=op.f("ck_payment_holds_captured"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payment_accounts.id"],
            name=op.f("fk_payment_holds_account_id_payment_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_holds")),
    )
    op.create_index(
        op.f("ix_payment_holds_account_id_status"),
        "payment_holds",
        ["account_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payment_holds_status_expires_at"),
        "payment_holds",
        ["status", "expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payment_holds_external_id"), "payment_holds", ["external_id"], unique=False
    )

    op.create_table(
        "payments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("hold_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_payments_amount")),
        sa.CheckConstraint(
            "refunded_minor BETWEEN 0 AND amount_minor", name=op.f("ck_payments_refunded")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payment_accounts.id"],
            name=op.f("fk_payments_account_id_payment_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["payment_holds.id"], name=op.f("fk_payments_hold_id_payment_holds")
        ),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["payment_journals.id"],
            name=op.f("fk_payments_journal_id_payment_journals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_payments_hold_id")),
    )
    op.create_index(
        op.f("ix_payments_account_id_created_at"),
        "payments",
        ["account_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("payment_holds")
    op.drop_table("payment_entries")
    op.drop_table("payment_journals")
    op.drop_table("payment_idempotency_keys")
    op.drop_table("payment_accounts")
