"""Language-aware text analysis: the one user of PyStemmer, the stop-word lists and language
detection. Text becomes lower-cased word tokens without stop words, Snowball-stemmed in the
article's language (from its record, detected from the text when absent)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache

import py3langid
import Stemmer
import stopwordsiso

# ISO 639-1 code → Snowball algorithm (every Snowball language PyStemmer ships with a code)
SNOWBALL = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "eo": "esperanto",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "nb": "norwegian",
    "nn": "norwegian",
    "fa": "persian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "st": "sesotho",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}

_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")
# detection on a short prefix is as good as on the whole text, and much cheaper
DETECT_CHARS = 400


def normalise_language(language: str | None) -> str | None:
    """ "nl-NL", "NL", "nl_BE" → "nl"; None or an empty string → None."""
    if not language:
        return None
    return language.strip().lower().replace("_", "-").split("-")[0] or None


_model_lock = threading.Lock()
_model_loaded = threading.Event()


def load_language_model() -> None:
    """Load the language identifier now, once per process. It loads on first use otherwise,
    which takes ~2 s (it decompresses its model): the first article a process analysed was that
    late, and a replica following the change feed showed it to readers seconds late. Under a
    lock: a second caller waits for the load under way instead of doing it again."""
    if _model_loaded.is_set():
        return
    with _model_lock:
        if not _model_loaded.is_set():
            py3langid.classify("taal")
            _model_loaded.set()


def warm_language_model() -> threading.Thread:
    """load_language_model in a thread of its own (start-up does other work meanwhile)."""
    thread = threading.Thread(target=load_language_model, name="language-model", daemon=True)
    thread.start()
    return thread


def detect_language(text: str) -> str | None:
    """The text's ISO 639-1 code, or None for text without letters."""
    sample = text[:DETECT_CHARS]
    if not _WORD.search(sample):
        return None
    load_language_model()
    code, _ = py3langid.classify(sample)
    return str(code)


def article_language(declared: str | None, text: str) -> str | None:
    """The record's language when it has one, else the detected one."""
    return normalise_language(declared) or detect_language(text)


@lru_cache(maxsize=64)
def stop_words(language: str | None) -> frozenset[str]:
    if language is None or not stopwordsiso.has_lang(language):
        return frozenset()
    return frozenset(word.lower() for word in stopwordsiso.stopwords(language))


def words(text: str) -> list[str]:
    """Word tokens in their original case (hyphens and apostrophes inside a word kept)."""
    return _WORD.findall(text)


class Analyzer:
    """Tokenise, drop stop words, stem. PyStemmer's stemmers are not thread-safe, so each one
    is used under its own lock (analysis runs on writes and builds, never per request)."""

    def __init__(self) -> None:
        self._stemmers: dict[str, tuple[Stemmer.Stemmer, threading.Lock]] = {}
        self._guard = threading.Lock()

    def _stemmer(self, language: str | None) -> tuple[Stemmer.Stemmer, threading.Lock] | None:
        algorithm = SNOWBALL.get(language or "")
        if algorithm is None:
            return None
        with self._guard:
            found = self._stemmers.get(algorithm)
            if found is None:
                found = (Stemmer.Stemmer(algorithm), threading.Lock())
                self._stemmers[algorithm] = found
            return found

    def stem(self, tokens: Iterable[str], language: str | None) -> list[str]:
        """Lower-cased tokens stemmed in language (unchanged for a language without Snowball)."""
        lowered = [token.lower() for token in tokens]
        found = self._stemmer(language)
        if found is None:
            return lowered
        stemmer, lock = found
        with lock:
            stemmed: list[str] = stemmer.stemWords(lowered)
        return stemmed

    def terms(self, text: str, language: str | None) -> list[str]:
        """Index terms of text: words without stop words or one-letter tokens, stemmed."""
        stops = stop_words(language)
        kept = [w for w in words(text) if len(w) > 1 and w.lower() not in stops]
        return self.stem(kept, language)
