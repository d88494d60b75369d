"""Durability: counters never handed out twice, reconciled and anomalous transactions, and
driver sessions held for review when their meter data is implausible.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATES = ("starting", "charging", "failed", "completed")


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("closed_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("anomaly", sa.Text(), nullable=True))
    with op.batch_alter_table("driver_sessions") as batch:
        batch.drop_constraint(op.f("ck_driver_sessions_state"), type_="check")
        batch.create_check_constraint(
            op.f("ck_driver_sessions_state"), f"state IN {(*STATES, 'review')}"
        )


def downgrade() -> None:
    with op.batch_alter_table("driver_sessions") as batch:
        batch.drop_constraint(op.f("ck_driver_sessions_state"), type_="check")
        batch.create_check_constraint(op.f("ck_driver_sessions_state"), f"state IN {STATES}")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("anomaly")
        batch.drop_column("closed_reason")
    op.drop_table("counters")
