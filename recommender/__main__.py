"""`python -m recommender ...`, for environments without the console script on PATH."""

from recommender.cli import app

app()
