"""SentenceGenerator: the offline corpus, determinism, and the Brown path without a network."""

from __future__ import annotations

import time

import pytest

from text_recognizer.data import sentence_generator as sg
from text_recognizer.data.sentence_generator import CorpusUnavailableError, SentenceGenerator
from text_recognizer.metadata.emnist import CHARSET


@pytest.fixture
def no_brown(monkeypatch, tmp_path):
    """Point the Brown locations at an empty folder: as on a fresh, offline machine."""
    monkeypatch.setattr(sg, "NLTK_DATA_DIRNAME", tmp_path / "nltk")
    monkeypatch.setattr(sg, "BROWN_CACHE_FILENAME", tmp_path / "processed" / "brown.txt")
    return tmp_path


def test_offline_snippets_fit_the_mapping_and_the_length():
    gen = SentenceGenerator(max_length=40, seed=0, source="offline")
    snippets = [gen.generate() for _ in range(300)]
    assert all(0 < len(s) <= 40 for s in snippets)
    assert set("".join(snippets)) <= set(CHARSET)
    assert all(s == s.strip() for s in snippets), "snippets start and end at word boundaries"
    assert len(set(snippets)) > 250
    assert max(len(s) for s in snippets) > 30, "lengths spread up to max_length"
    assert all(len(gen.generate(max_length=8)) <= 8 for _ in range(50))


def test_same_seed_same_snippets_other_seed_other_snippets():
    def first(seed: int) -> list[str]:
        gen = SentenceGenerator(max_length=60, seed=seed, source="offline")
        return [next(gen) for _ in range(20)]

    assert first(1) == first(1)
    assert first(1) != first(2)


def test_iteration_yields_strings():
    gen = iter(SentenceGenerator(max_length=20, seed=0, source="offline"))
    assert all(isinstance(s, str) and s for s in (next(gen) for _ in range(5)))


def test_offline_corpus_is_prose():
    sentences = sg.offline_sentences()
    assert len(sentences) > 1000
    assert all(s[0].isupper() and s[-1] in ".!?" for s in sentences)
    assert not any("_" in s or ">>>" in s for s in sentences)


def test_auto_uses_the_offline_corpus_when_brown_is_absent_without_touching_the_network(no_brown):
    gen = SentenceGenerator(max_length=30, seed=0, source="auto")
    assert gen.source == "offline" and gen.corpus_id.startswith("offline:py")


def test_brown_fails_fast_offline_and_names_the_offline_source(no_brown, expect_network_attempt):
    start = time.perf_counter()
    with pytest.raises(CorpusUnavailableError, match="source='offline'"):
        SentenceGenerator(source="brown")
    assert time.perf_counter() - start < 10
    assert expect_network_attempt, "it did try to reach the download host"
    assert not (no_brown / "nltk" / "corpora").exists(), "nothing half-downloaded is left"


def test_brown_cache_is_used_when_present(no_brown):
    cache = sg.BROWN_CACHE_FILENAME
    cache.parent.mkdir(parents=True)
    cache.write_text("The jury said it did find that. It was a fine day in May.\n")
    gen = SentenceGenerator(max_length=30, seed=0, source="auto")
    assert gen.source == "brown" and gen.corpus_id.startswith("brown:")
    assert gen.generate() in gen.text


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="source must be one of"):
        SentenceGenerator(source="wikipedia")
    with pytest.raises(ValueError, match="max_length"):
        SentenceGenerator(max_length=0, source="offline")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("A  “quoted”   text.", 'A "quoted" text.'),
        ("It’s fine — really.", "It's fine - really."),
        ("Costs $5.", None),
    ],
)
def test_clean_sentence(raw, clean):
    assert sg.clean_sentence(raw) == clean


BROWN_FILE = (  # the real on-disk format: tab-indented sentences of word/tag tokens
    "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd ``/`` no/at "
    "evidence/nn ''/'' was/bedz found/vbn ./.\n\n\n\tIt/pps was/bedz n't/* a/at bad/jj "
    "day/nn ,/, he/pps said/vbd ./.\n\n\n\tIt/pps cost/vbd $5/nns ./.\n"
)


@pytest.mark.slow  # importing NLTK takes a few seconds
def test_an_installed_brown_corpus_is_read_detokenized_and_cached(tmp_path):
    brown = tmp_path / "nltk" / "corpora" / "brown"
    brown.mkdir(parents=True)
    (brown / "cats.txt").write_text("ca01 news\n")
    (brown / "ca01").write_text(BROWN_FILE)
    cache = tmp_path / "brown.txt"
    sentences = sg.brown_sentences(tmp_path / "nltk", cache, download=False)
    assert sentences == (
        'The Fulton County Grand Jury said "no evidence" was found.',
        "It wasn't a bad day, he said.",
    )  # "$5" is not in the mapping
    assert cache.read_text().splitlines() == list(sentences)
