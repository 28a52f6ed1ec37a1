"""The HTTP API: app (create_app), deps, schemas, errors, middleware, prometheus, routes/."""

from recommender.api.app import create_app
from recommender.api.schemas import ItemOut, RecommendationOut

__all__ = ["ItemOut", "RecommendationOut", "create_app"]
