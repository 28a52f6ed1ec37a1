"""Contrastive tuning of the embedding model on the site's own articles and readers
(`recommender tune`): pairs (pairs.py), the torch loop (train.py, the only torch user here),
validation (validation.py), versioned model folders (artifact.py), one run (run.py)."""

from recommender.tuning.artifact import activate, list_versions
from recommender.tuning.run import TuneResult, run_tune

__all__ = ["TuneResult", "activate", "list_versions", "run_tune"]
