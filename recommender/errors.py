"""Named errors. They carry no transport detail: the API maps them to status codes in one table
(recommender/api/errors.py), the CLI to its exit codes."""


class RecommenderError(Exception):
    """Base class for every error the service reports to a caller."""


class ArticleNotFound(RecommenderError):
    """No article with this id."""


class InvalidInput(RecommenderError):
    """The input could not be understood."""


class IndexMismatch(RecommenderError):
    """The index on disk was built with another model or dimension."""


class IndexNotFound(RecommenderError):
    """No usable index folder was found."""


class BuildInProgress(RecommenderError):
    """Another build is running on this index folder."""


class StoreUnavailable(RecommenderError):
    """The database cannot be reached; nothing was written."""


class SharedStateUnavailable(RecommenderError):
    """Redis (shared popularity, change feed) cannot be reached."""


class ModelNotFound(InvalidInput):
    """No embedding model by this name (e.g. a tuned version that is not on disk)."""


class TuneInProgress(BuildInProgress):
    """Another tuning run holds the tuned-models folder."""


class ModelNotImproved(InvalidInput):
    """A tuned model whose validation did not beat its base is not made current unforced."""
