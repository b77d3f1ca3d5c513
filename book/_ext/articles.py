"""The two source articles as sentences, and which sentences look like claims.

Used by the coverage test (tests/test_claims_coverage.py), the claims tests (tests/test_claims.py,
for ``normalise``), the claims-ledger appendix and the chapter 7 landing page.

- ``normalise(text)``: the one normalisation used to match quotes against the articles.
- ``article_text(article)``: the whole normalised text of article ``"A"`` or ``"B"``.
- ``article_sentences(article)``: its sentences, in order. Every non-empty line of the plain-text
  article is a unit of its own (headings, list items, table rows, bylines, the comment); a line of
  running text is split into sentences by pysbd's rule-based segmenter (Sadvilkar & Neumann 2020),
  which keeps "Deep vs. Shallow RNN", "1. Major Applications of RNN" and a quotation followed by
  a sentence as a regular expression on ``[.!?] + space + capital`` does not.
- ``is_claim_like(sentence)``: a number, a comparison word or a causal verb (the word lists below).
- ``covering_rows(sentence, rows)``: the rows of book/claims.yml whose quote covers the sentence.
- ``covering_entries(sentence, entries)``: the entries of book/not_claims.yml that hold the whole
  sentence (a short heading quoted there must not cover a longer sentence that contains it).
- ``load_not_claims()``: the entries of book/not_claims.yml.
"""
import re
from functools import lru_cache
from pathlib import Path

import pysbd
import yaml

ARTICLES_DIR = Path(__file__).resolve().parents[1] / "articles"
NOT_CLAIMS_FILE = Path(__file__).resolve().parents[1] / "not_claims.yml"
ARTICLE_FILES = {"A": "000_3c5e71c82b6b87cf.txt", "B": "004_407c70e257fcf610.txt"}

#: The bullet marks that open a list item in the plain-text articles (dropped from the sentence).
BULLETS = "•·▪‣-–"

#: Words of comparison: a sentence with one of them compares two things or ranks one ("RNNs are
#: better than...", "fewer computations", "outperform", "unlike CNNs").
COMPARISON_WORDS = frozenset("""
    than more less fewer most least better best worse worst faster slower higher lower greater lesser
    larger smaller longer shorter simpler stronger weaker superior inferior outperform outperforms
    unlike versus vs compared comparison contrast conversely whereas improve improves improved
    improvement excel excels excelling dominate dominates exceed exceeds beyond superior
""".split())

#: Causal verbs and connectives: a sentence with one of them says that something makes, lets or
#: stops something else happen ("allows them to capture", "due to", "leading to unstable training").
CAUSAL_WORDS = frozenset("""
    allow allows allowing allowed enable enables enabling enabled cause causes causing caused
    lead leads leading result results resulting make makes making prevent prevents preventing
    help helps helping mitigate mitigates mitigating overcome overcomes overcoming address addresses
    because due hence therefore thus so consequently hinder hinders hindering restrict restricts
    require requires requiring emerge emerges drive drives driving create creates creating
    ensure ensures ensuring affect affects combat combats alleviate alleviates reduce reduces
    increase increases accelerate accelerates destabilise destabilises bypass bypasses
    eliminate eliminates eliminating enhance enhances enhancing determine determines dictate dictates
    rely relies
""".split())

#: A number: digits (3, 85-90%, 1.2, 2023), or a number word.
NUMBER_WORDS = frozenset("""
    one two three four five six seven eight nine ten twice half double triple exponential exponentially
""".split())

_SEGMENTER = pysbd.Segmenter(language="en", clean=False)


def normalise(text):
    """Text for quote matching: curly quotes made straight, *emphasis* markers dropped, every run
    of whitespace one space.

    Args:
        text: a str of any length.

    Returns:
        The normalised str.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    text = text.translate(str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "*": None}))
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _normalised(text):
    """``normalise``, remembered: the coverage check normalises the same quotes many times."""
    return normalise(text)


def _article_path(article):
    if article not in ARTICLE_FILES:
        raise ValueError(f"article must be one of {sorted(ARTICLE_FILES)}, got {article!r}")
    return ARTICLES_DIR / ARTICLE_FILES[article]


def article_text(article):
    """The whole text of an article, normalised (see ``normalise``).

    Args:
        article: ``"A"`` or ``"B"``.

    Returns:
        A str.
    """
    return normalise(_article_path(article).read_text(encoding="utf8"))


@lru_cache(maxsize=None)
def _sentences(article):
    sentences = []
    for line in _article_path(article).read_text(encoding="utf8").splitlines():
        line = normalise(line).lstrip(BULLETS + " ")
        if not line:
            continue
        # pysbd only splits at . ! ? (or an ellipsis); a line with none of them before its last
        # character is one sentence, and skipping the segmenter for it halves the time.
        pieces = _SEGMENTER.segment(line) if re.search(r"[.!?…]", line[:-1]) else [line]
        for sentence in pieces:
            sentence = sentence.strip()
            if sentence:
                sentences.append(sentence)
    return tuple(sentences)


def article_sentences(article):
    """The sentences of an article, in order, normalised (see ``normalise``).

    A non-empty line is never joined to the next: headings, list items (without their bullet),
    table rows and bylines are sentences of their own; a line of running text is split with
    pysbd. A sentence that occurs twice (a repeated heading) is listed twice.

    Args:
        article: ``"A"`` or ``"B"``.

    Returns:
        A list of str, each one occurring verbatim in ``article_text(article)``.
    """
    return list(_sentences(article))


def _words(sentence):
    return re.findall(r"[a-z]+", sentence.lower())


def is_claim_like(sentence):
    """Whether a sentence looks like a claim: it holds a number (a digit or a word of
    ``NUMBER_WORDS``), a word of ``COMPARISON_WORDS`` or a word of ``CAUSAL_WORDS``.

    A screen, not a judgement: it finds the sentences that must have a row of book/claims.yml or an
    entry of book/not_claims.yml saying why they claim nothing (a heading "1. Major Applications of
    RNN" is claim-like by its number).

    Args:
        sentence: a str.

    Returns:
        bool.
    """
    if not isinstance(sentence, str):
        raise ValueError(f"sentence must be a str, got {type(sentence).__name__}")
    if re.search(r"\d", sentence):
        return True
    words = set(_words(sentence))
    return bool(words & (NUMBER_WORDS | COMPARISON_WORDS | CAUSAL_WORDS))


def _check_sentence_and_article(sentence, article):
    """ValueError unless sentence is a non-empty str and article is "A", "B" or None."""
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty str, got {sentence!r}")
    if article is not None and article not in ARTICLE_FILES:
        raise ValueError(f"article must be one of {sorted(ARTICLE_FILES)} or None, got {article!r}")


def covering_rows(sentence, rows, article=None):
    """The rows whose quote covers a sentence: the row's normalised quote is inside the sentence,
    or the sentence is inside the quote (a quote may span several sentences).

    Args:
        sentence: a normalised sentence (from ``article_sentences``).
        rows: a list of dicts with a ``quote`` field (and ``article``), e.g. book/claims.yml's rows
            or book/not_claims.yml's entries.
        article: ``"A"``, ``"B"`` or None; when given, only the rows of that article count.

    Returns:
        The covering rows, a list in the order of ``rows``.
    """
    _check_sentence_and_article(sentence, article)
    sentence = normalise(sentence)
    found = []
    for row in rows:
        if article is not None and row.get("article") != article:
            continue
        quote = _normalised(str(row.get("quote", "")))
        if quote and (quote in sentence or sentence in quote):
            found.append(row)
    return found


def covering_entries(sentence, entries, article=None):
    """The not-claim entries that hold the whole sentence: the sentence is inside the entry's
    normalised quote. (Unlike ``covering_rows``, a quote inside a longer sentence does not count:
    the heading "Common Misconceptions" says nothing about the sentence "Common Misconceptions
    about Deep Learning RNN", nor "Deep Learning RNN" about "Deep Learning RNNs are infallible".)

    Args:
        sentence: a normalised sentence (from ``article_sentences``).
        entries: a list of dicts with ``quote`` (and ``article``), e.g. ``load_not_claims()``.
        article: ``"A"``, ``"B"`` or None; when given, only the entries of that article count.

    Returns:
        The covering entries, a list in the order of ``entries``.
    """
    _check_sentence_and_article(sentence, article)
    sentence = normalise(sentence)
    return [entry for entry in entries
            if (article is None or entry.get("article") == article)
            and sentence in _normalised(str(entry.get("quote", "")))]


def load_not_claims(path=NOT_CLAIMS_FILE):
    """The entries of book/not_claims.yml, a list of dicts {article, quote, why}, in file order."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's parser when it is there
    data = yaml.load(Path(path).read_text(encoding="utf8"), Loader=loader) or {}
    return data.get("not_claims") or []
