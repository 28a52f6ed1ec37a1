"""The running recommender (core), its index lifecycle (lifecycle) and rebuild jobs (jobs)."""

from recommender.service.core import RecommenderService, UpsertResult
from recommender.service.jobs import RebuildJob
from recommender.service.lifecycle import ReloadResult

__all__ = ["RebuildJob", "RecommenderService", "ReloadResult", "UpsertResult"]
