"""indexes for the loyalty write path

* ``outbox (account, target)`` over pending publish rows only: publishing a balance supersedes
  the pending publish row of the same store and account. With only single-column indexes SQLite
  answers that by walking every pending row (or every row of the account); this partial index
  holds at most one row per store and account, so it stays small and finds the row directly.
* ``ledger_entries (account, seq)``: every read of the ledger is one account's entries in
  ``seq`` order. It replaces the ``account`` and ``seq`` indexes, so each appended entry
  updates one index fewer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PENDING_PUBLISH = "kind = 'publish' AND status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_publish_pending",
            ["account", "target"],
            unique=False,
            sqlite_where=sa.text(PENDING_PUBLISH),
            postgresql_where=sa.text(PENDING_PUBLISH),
        )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_account_seq", ["account", "seq"], unique=False)
        batch_op.drop_index("ix_ledger_entries_account")
        batch_op.drop_index("ix_ledger_entries_seq")


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_seq", ["seq"], unique=False)
        batch_op.create_index("ix_ledger_entries_account", ["account"], unique=False)
        batch_op.drop_index("ix_ledger_entries_account_seq")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_publish_pending")
