"""Alembic environment: always run with a connection handed in by bot.database.upgrade."""
from __future__ import annotations

from alembic import context

import bot.all_models  # noqa: F401  (registers every table on Base.metadata)
from core.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cchc-bot db upgrade` (bot.database.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
