"""Random English text snippets to render as synthetic handwriting.

Two corpora behind one interface:

- ``"brown"``: the Brown corpus (1.1M words of 1961 American English), downloaded once with
  ``nltk.download`` into ``data/downloaded/nltk``. Needs the network the first time.
- ``"offline"``: English sentences from the docstrings of Python's standard library. Needs
  nothing but Python, so it works on a plane, in CI and in the tests. (It is technical
  English, and changes a little between Python versions: see :attr:`SentenceGenerator.corpus_id`.)

``source="auto"`` uses Brown when it has already been downloaded and the offline corpus
otherwise; it never touches the network.

Every snippet uses only characters of the EMNIST mapping, so any model in the course can
read it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import os
import re
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from text_recognizer.metadata.emnist import CHARSET
from text_recognizer.metadata.shared import DOWNLOADED_DATA_DIRNAME, PROCESSED_DATA_DIRNAME
from text_recognizer.util import atomic_write_text

SOURCES = ("auto", "brown", "offline")
NLTK_DATA_DIRNAME = DOWNLOADED_DATA_DIRNAME / "nltk"
BROWN_CACHE_FILENAME = PROCESSED_DATA_DIRNAME / "sentences" / "brown.txt"
NLTK_HOST = ("raw.githubusercontent.com", 443)  # where nltk.download fetches its index from
NETWORK_TIMEOUT_S = 5.0
OFFLINE_HINT = "Use SentenceGenerator(source='offline') (Python standard library docstrings)."

# Standard-library modules whose docstrings make the offline corpus (a fixed, sorted order
# keeps the corpus deterministic for a given Python version).
# fmt: off
OFFLINE_MODULES = (
    "argparse", "asyncio", "calendar", "collections", "concurrent.futures", "configparser",
    "contextlib", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message",
    "enum", "fractions", "functools", "gzip", "heapq", "http.client", "http.cookiejar",
    "http.server", "imaplib", "inspect", "io", "ipaddress", "itertools", "json", "logging",
    "mailbox", "multiprocessing", "os", "pathlib", "pickle", "pprint", "pydoc", "queue",
    "random", "re", "sched", "shutil", "smtplib", "socket", "sqlite3", "statistics", "string",
    "subprocess", "tarfile", "tempfile", "textwrap", "threading", "time", "typing", "unittest",
    "urllib.parse", "urllib.request", "uuid", "warnings", "wave", "xml.dom.minidom", "zipfile",
)
# fmt: on
_ALLOWED = frozenset(CHARSET)
_CODE_LIKE = re.compile(
    r"\w\.\w|\w\(|_|[a-z][A-Z]|\s[-*]\s*$"
)  # os.path, f(, snake_case, camelCase
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2014": "-",
        "\u2013": "-",
        "`": "'",
    }
)


class CorpusUnavailableError(RuntimeError):
    """The requested corpus cannot be loaded (e.g. Brown while offline)."""


def clean_sentence(sentence: str) -> str | None:
    """Normalize quotes/dashes/whitespace; ``None`` if it still has characters outside
    the EMNIST mapping.

    >>> clean_sentence("  It’s   a “test” — ok. ")
    'It\\'s a "test" - ok.'
    >>> clean_sentence("x = [1, 2]") is None
    True
    """
    sentence = " ".join(sentence.translate(_TRANSLATE).split())
    return sentence if sentence and set(sentence) <= _ALLOWED else None


def _looks_like_prose(sentence: str) -> bool:
    """A sentence of English words, not code: starts upper-case, ends with a full stop,
    has 4+ words and is >= 90% letters and spaces.

    >>> _looks_like_prose("Return the number of items in the queue.")
    True
    >>> _looks_like_prose("Call os.path.join() first.")
    False
    """
    if len(sentence.split()) < 4 or not sentence[0].isupper() or sentence[-1] not in ".!?":
        return False
    if _CODE_LIKE.search(sentence):
        return False
    return sum(c.isalpha() or c == " " for c in sentence) >= 0.9 * len(sentence)


def _docstrings(module_name: str) -> Iterator[str]:
    module = importlib.import_module(module_name)
    yield inspect.getdoc(module) or ""
    for name in sorted(vars(module)):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        yield inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for member in sorted(vars(obj)):
                if inspect.isfunction(vars(obj)[member]):
                    yield inspect.getdoc(vars(obj)[member]) or ""


# What a process has imported changes some standard-library docstrings (libraries patch
# them), so the corpus is collected in a fresh interpreter in a fixed state: torch imported
# (a production dependency; the state the release recognizer's data was built in). Same
# Python, same corpus, whoever asks.
_CLEAN_STATE = "import torch"


@functools.lru_cache(maxsize=1)
def offline_sentences() -> tuple[str, ...]:
    """Unique prose sentences from standard-library docstrings (~2,500, ~170k characters),
    the same in every process (collected in a fresh interpreter).

    >>> sentences = offline_sentences()
    >>> len(sentences) > 1000 and all(set(s) <= set(CHARSET) for s in sentences)
    True
    """
    import json
    import subprocess
    import sys

    code = (
        f"{_CLEAN_STATE}\nimport json, sys\n"
        "from text_recognizer.data.sentence_generator import collect_offline_sentences\n"
        "json.dump(collect_offline_sentences(), sys.stdout)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return tuple(json.loads(result.stdout))


def collect_offline_sentences() -> list[str]:
    """The offline corpus as this process sees it (see :func:`offline_sentences`)."""
    seen: dict[str, None] = {}
    for module_name in OFFLINE_MODULES:
        try:
            with warnings.catch_warnings():  # e.g. typing.io warns when its __doc__ is read
                warnings.simplefilter("ignore")
                docs = list(_docstrings(module_name))
        except ImportError:  # a module missing from this Python build: skip it
            continue
        for doc in docs:
            for paragraph in re.split(r"\n\s*\n", doc):
                if ">>>" in paragraph or "::" in paragraph:
                    continue  # examples and literal blocks
                for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                    sentence = clean_sentence(sentence)
                    if sentence and _looks_like_prose(sentence):
                        seen.setdefault(sentence)
    return list(seen)


def _check_network(host: tuple[str, int] = NLTK_HOST, timeout: float = NETWORK_TIMEOUT_S) -> None:
    """Fail fast (seconds, not minutes of retries) when the download host is unreachable."""
    try:
        socket.create_connection(host, timeout=timeout).close()
    except OSError as error:
        raise CorpusUnavailableError(
            f"The Brown corpus is not downloaded and {host[0]} cannot be reached "
            f"({type(error).__name__}: {error}). You may be offline. {OFFLINE_HINT}"
        ) from error


def _brown_installed(nltk_dir: Path) -> bool:
    """A file check (importing NLTK alone takes seconds)."""
    corpora = nltk_dir / "corpora"
    return (corpora / "brown").is_dir() or (corpora / "brown.zip").is_file()


def _find_brown(nltk_dir: Path):
    """NLTK's path pointer to the corpus (a folder or inside a zip), or None."""
    import nltk

    try:
        return nltk.data.find("corpora/brown", paths=[str(nltk_dir)])
    except LookupError:
        return None


def download_brown(nltk_dir: str | os.PathLike | None = None) -> Path:
    """Download the Brown corpus with ``nltk.download`` (once) into ``nltk_dir`` (default
    ``data/downloaded/nltk``).

    Raises :class:`CorpusUnavailableError` quickly, naming the offline corpus, when the
    network is unreachable.
    """
    nltk_dir = Path(nltk_dir or NLTK_DATA_DIRNAME)
    if not _brown_installed(nltk_dir):
        _check_network()  # before importing NLTK, which alone takes seconds
        import nltk

        nltk_dir.mkdir(parents=True, exist_ok=True)
        try:
            ok = nltk.download("brown", download_dir=str(nltk_dir), quiet=True, raise_on_error=True)
        except (OSError, ValueError) as error:
            raise CorpusUnavailableError(
                f"nltk.download('brown') failed: {error}. {OFFLINE_HINT}"
            ) from error
        if not ok or _find_brown(nltk_dir) is None:
            raise CorpusUnavailableError(
                f"nltk.download('brown') did not install it. {OFFLINE_HINT}"
            )
    return nltk_dir


def brown_sentences(
    nltk_dir: str | os.PathLike | None = None,
    cache_file: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[str, ...]:
    """Detokenized Brown sentences that fit the EMNIST mapping (downloads if allowed).

    The cleaned sentences are cached as one text file (default
    ``data/processed/sentences/brown.txt``, written atomically), so later runs skip NLTK's
    slow corpus reader.
    """
    cache_file = Path(cache_file or BROWN_CACHE_FILENAME)
    if cache_file.exists():
        return tuple(cache_file.read_text(encoding="utf-8").splitlines())
    nltk_dir = Path(nltk_dir or NLTK_DATA_DIRNAME)
    if not _brown_installed(nltk_dir):
        if not download:
            raise CorpusUnavailableError(f"The Brown corpus is not in {nltk_dir}. {OFFLINE_HINT}")
        download_brown(nltk_dir)
    import nltk
    from nltk.corpus.reader import CategorizedTaggedCorpusReader
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    if str(nltk_dir) not in nltk.data.path:  # NLTK only reads corpora under its data path
        nltk.data.path.append(str(nltk_dir))
    reader = CategorizedTaggedCorpusReader(
        _find_brown(nltk_dir), r"c[a-z]\d\d", cat_file="cats.txt", tagset="brown", encoding="ascii"
    )
    detokenize = TreebankWordDetokenizer().detokenize
    sentences = []
    for tokens in reader.sents():
        sentence = clean_sentence(detokenize(tokens))  # handles `` '' quotes and n't
        if sentence:
            sentences.append(sentence)
    atomic_write_text(cache_file, "\n".join(sentences))
    return tuple(sentences)


def brown_available(
    nltk_dir: str | os.PathLike | None = None, cache_file: str | os.PathLike | None = None
) -> bool:
    """Whether the Brown corpus can be used without the network."""
    return Path(cache_file or BROWN_CACHE_FILENAME).exists() or _brown_installed(
        Path(nltk_dir or NLTK_DATA_DIRNAME)
    )


class SentenceGenerator:
    """Random snippets of English, up to ``max_length`` characters, reproducible by ``seed``.

    A snippet starts at a random word of the corpus and ends at a random later word end
    (FSDL's scheme), so lengths spread over 1..max_length and snippets may span sentences.

    >>> gen = SentenceGenerator(max_length=32, seed=0, source="offline")
    >>> text = gen.generate()
    >>> 0 < len(text) <= 32 and set(text) <= set(CHARSET)
    True
    >>> text == SentenceGenerator(max_length=32, seed=0, source="offline").generate()
    True
    """

    def __init__(self, max_length: int = 80, seed: int = 0, source: str = "auto") -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be positive, not {max_length}")
        if source == "auto":
            source = "brown" if brown_available() else "offline"
        sentences = brown_sentences() if source == "brown" else offline_sentences()
        self.source = source
        self.max_length = max_length
        self.seed = seed
        self.text = " ".join(sentences)
        chars = np.frombuffer(self.text.encode("ascii"), dtype=np.uint8)
        is_space = chars == ord(" ")
        before = np.concatenate([[True], is_space[:-1]])  # (n,) previous char is a space
        after = np.concatenate([is_space[1:], [True]])
        self.word_starts = np.flatnonzero(~is_space & before)
        self.word_ends = np.flatnonzero(~is_space & after) + 1  # exclusive
        self.rng = np.random.default_rng(seed)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:12]
        # Identifies the corpus in dataset fingerprints (the offline one varies with Python).
        self.corpus_id = f"{source}:{'py' + version + ':' if source == 'offline' else ''}{digest}"

    def generate(self, max_length: int | None = None) -> str:
        """One snippet of at most ``max_length`` (default: the generator's) characters."""
        max_length = max_length or self.max_length
        start = int(self.word_starts[self.rng.integers(len(self.word_starts))])
        first = np.searchsorted(self.word_ends, start, side="right")
        last = np.searchsorted(self.word_ends, start + max_length, side="right")
        if last <= first:  # the first word alone is too long: cut it
            return self.text[start : start + max_length]
        end = int(self.word_ends[self.rng.integers(first, last)])
        return self.text[start:end]

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return self.generate()

    def __repr__(self) -> str:
        return (
            f"SentenceGenerator(max_length={self.max_length}, seed={self.seed}, "
            f"source={self.source!r}, corpus={len(self.text):,} characters)"
        )
