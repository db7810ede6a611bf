"""Alembic environment: always run with a connection handed in by bot.storage.db.upgrade."""
from __future__ import annotations

from alembic import context

import bot.storage.all_models  # noqa: F401  (registers every table on Base.metadata)
from bot.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cchc-bot db upgrade` (bot.storage.db.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
