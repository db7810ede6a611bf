"""Import every model module so Base.metadata knows all tables (Alembic, tests)."""
from bot.storage import models  # noqa: F401
