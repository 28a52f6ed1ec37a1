"""Named errors. The API maps them to status codes in one handler; the CLI to exit code 2."""


class RecommenderError(Exception):
    """Base class for every error the service reports to a caller."""

    status_code = 400


class ArticleNotFound(RecommenderError):
    """No article with this id."""

    status_code = 404


class InvalidInput(RecommenderError):
    """The input could not be understood."""

    status_code = 422


class IndexMismatch(RecommenderError):
    """The index on disk was built with another model or dimension."""

    status_code = 500


class IndexNotFound(RecommenderError):
    """No usable index folder was found."""

    status_code = 503


class BuildFailed(RecommenderError):
    """A rebuild failed; the serving index is unchanged."""

    status_code = 500


class BuildInProgress(RecommenderError):
    """Another build is running on this index folder."""

    status_code = 409
