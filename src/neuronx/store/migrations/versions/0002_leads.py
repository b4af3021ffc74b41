"""leads

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("scoring", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_to", sa.String(length=64), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("routing", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leads_tenant_id_assigned_to"),
            ["tenant_id", "assigned_to"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_tenant_id_domain_updated_at"),
            ["tenant_id", "domain", "updated_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_tenant_id_email"), ["tenant_id", "email"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_leads_tenant_id_phone"), ["tenant_id", "phone"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_tenant_id_status"),
            ["tenant_id", "status"],
            unique=False,
        )

    op.create_table(
        "rep_loads",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "rep_id", "day", name=op.f("pk_rep_loads")
        ),
    )
    op.create_table(
        "routing_state",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_routing_state")),
    )


def downgrade() -> None:
    op.drop_table("routing_state")
    op.drop_table("rep_loads")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_tenant_id_status"))
        batch_op.drop_index(batch_op.f("ix_leads_tenant_id_phone"))
        batch_op.drop_index(batch_op.f("ix_leads_tenant_id_email"))
        batch_op.drop_index(batch_op.f("ix_leads_tenant_id_domain_updated_at"))
        batch_op.drop_index(batch_op.f("ix_leads_tenant_id_assigned_to"))

    op.drop_table("leads")
