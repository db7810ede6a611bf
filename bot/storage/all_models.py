"""Import every model module so Base.metadata knows all tables (Alembic, tests)."""
from bot.storage import models  # noqa: F401
from bot.feedback import models as feedback_models  # noqa: F401
from bot.web.dashboard import models as dashboard_models  # noqa: F401
from bot.bulletin import models as bulletin_models  # noqa: F401
