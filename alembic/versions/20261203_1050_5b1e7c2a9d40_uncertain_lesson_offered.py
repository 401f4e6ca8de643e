"""Deliveries remember when an uncertain lesson was offered to the learner again (once, at the
next reply), so the offer is never repeated. Nullable: existing rows have not been offered.

Revision ID: 5b1e7c2a9d40
Revises: e540da888b7e
Create Date: 2026-12-03 10:50:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "5b1e7c2a9d40"
down_revision: Union[str, Sequence[str], None] = "e540da888b7e"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("offered_at")
