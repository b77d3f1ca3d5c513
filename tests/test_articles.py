"""book/_ext/articles.py: the articles' sentences, the claim-like screen and covering rows."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from articles import (ARTICLE_FILES, article_sentences, article_text, covering_entries, covering_rows,  # noqa: E402
                      is_claim_like, normalise)


def test_normalise_straightens_quotes_drops_emphasis_and_joins_whitespace():
    assert normalise("  “It’s” *so*\n\tbold  ") == "\"It's\" so bold"


def test_normalise_refuses_a_non_string():
    with pytest.raises(ValueError, match="text must be a str, got int"):
        normalise(3)


@pytest.mark.parametrize("article", sorted(ARTICLE_FILES))
def test_every_sentence_is_verbatim_in_its_article_and_none_is_empty(article):
    sentences = article_sentences(article)
    text = article_text(article)
    assert len(sentences) > 150, len(sentences)
    assert all(sentence and sentence in text for sentence in sentences)
    assert all(sentence == normalise(sentence) for sentence in sentences)


@pytest.mark.parametrize("article", sorted(ARTICLE_FILES))
def test_sentences_cover_the_whole_article_in_order(article):
    """Joined with spaces, the sentences (plus the dropped bullets) give back the article's words."""
    drop_bullets = "".join(article_text(article).split("• "))
    assert " ".join(article_sentences(article)).replace(" ", "") == drop_bullets.replace(" ", "")


def test_headings_list_items_and_table_rows_are_sentences_of_their_own():
    a = article_sentences("A")
    assert "8. Deep vs. Shallow RNN" in a            # the abbreviation does not split the heading
    assert "10. Current Trends in RNN Research" in a  # nor does the list number
    assert "Data A 90% 85%" in a                      # a table row
    assert "RNNs are not immune to overfitting, so proper regularization techniques should be applied." in a
    assert a.count("Deep Learning RNN") == 4          # a repeated heading is listed each time
    b = article_sentences("B")
    assert "GRUs achieve 85-90% of LSTM accuracy with 25% fewer computations" in b
    # a quotation ending a sentence is split from the next sentence
    assert ('As explained in recent research: "The cell state acts like a conveyor belt, carrying crucial '
            'context through time steps with minimal interference."') in b
    assert "This parallel pathway preserves vital patterns that basic architectures often lose." in b


def test_article_must_be_a_or_b():
    with pytest.raises(ValueError, match="article must be one of \\['A', 'B'\\], got 'C'"):
        article_sentences("C")


@pytest.mark.parametrize("sentence, expected", [
    ("GRUs achieve 85-90% of LSTM accuracy", True),                       # a number
    ("Training Time Longer Shorter", True),                                # a comparison word
    ("This memory mechanism allows them to model context.", True),         # a causal verb
    ("Three pillars define this approach:", True),                         # a number word
    ("Frequently Asked Questions", False),
    ("What is deep learning?", False),
    ("Understanding RNNs", False),
])
def test_is_claim_like(sentence, expected):
    assert is_claim_like(sentence) is expected


def test_is_claim_like_matches_whole_words_only():
    assert not is_claim_like("Thanksgiving moreover")   # 'than' and 'more' inside other words


def test_is_claim_like_refuses_a_non_string():
    with pytest.raises(ValueError, match="sentence must be a str, got list"):
        is_claim_like(["a"])


def test_covering_rows_both_ways_and_by_article():
    rows = [{"id": "inside", "article": "A", "quote": "RNNs have *loops*"},
            {"id": "around", "article": "A", "quote": "RNNs have loops. They remember."},
            {"id": "other-article", "article": "B", "quote": "RNNs have loops"},
            {"id": "unrelated", "article": "A", "quote": "CNNs have filters"}]
    sentence = "Unlike MLPs, RNNs have loops."
    assert [r["id"] for r in covering_rows(sentence, rows)] == ["inside", "other-article"]
    assert [r["id"] for r in covering_rows("RNNs have loops.", rows, article="A")] == ["inside", "around"]
    assert covering_rows("Nothing here.", rows) == []


def test_covering_rows_refuses_an_empty_sentence_and_an_unknown_article():
    with pytest.raises(ValueError, match="sentence must be a non-empty str"):
        covering_rows("  ", [])
    with pytest.raises(ValueError, match="article must be one of"):
        covering_rows("x", [], article="C")


def test_covering_entries_needs_the_whole_sentence():
    entries = [{"article": "A", "quote": "Deep Learning RNN"},
               {"article": "A", "quote": "Key Takeaways. Deep Learning RNN"}]
    assert covering_entries("Deep Learning RNN", entries) == entries
    assert covering_entries("Deep Learning RNNs are infallible", entries) == []
    assert covering_entries("Deep Learning RNN", entries, article="B") == []
