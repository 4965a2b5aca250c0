"""Imports every table module so Base.metadata is complete (Alembic, tests)."""

from app.audit import models as audit_models
from app.campaigns import models as campaigns_models
from app.delivery import models as delivery_models
from app.federations import models as federations_models
from app.images import models as images_models
from app.monitoring import models as monitoring_models
from app.seasons import models as seasons_models
from app.subscribers import models as subscribers_models
from app.users import models as users_models

__all__ = [
    "audit_models",
    "campaigns_models",
    "delivery_models",
    "federations_models",
    "images_models",
    "monitoring_models",
    "seasons_models",
    "subscribers_models",
    "users_models",
]
