"""Import every model module so Base.metadata knows all tables (Alembic, tests)."""
from core.storage import models  # noqa: F401
from features.feedback import models as feedback_models  # noqa: F401
from dashboard import models as dashboard_models  # noqa: F401
from features.bulletin import models as bulletin_models  # noqa: F401
from channels.zalo_oa import store as zalo_oa_store  # noqa: F401
from channels.web import store as webchat_models  # noqa: F401
from features.faq import models as faq_models  # noqa: F401
