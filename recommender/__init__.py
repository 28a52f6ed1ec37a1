"""Related-article ("Lees ook") and popular-article ("Populair nieuws") recommendations."""

__version__ = "0.1.0"
