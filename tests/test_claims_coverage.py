"""Every claim-like sentence of the two articles has a claims row or a "not a claim" entry.

The articles are split into sentences by book/_ext/articles.py (each line a unit: headings, list
items and table rows are sentences too). A sentence is claim-like when it holds a number, a
comparison word or a causal verb (``is_claim_like``, word lists in that module). Such a sentence
must be covered by a row of book/claims.yml (the row's quote inside the sentence, or the sentence
inside the quote) or by an entry of book/not_claims.yml (the sentence inside the entry's quote).
These tests read files only.
"""
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from articles import (ARTICLE_FILES, article_sentences, article_text, covering_entries,  # noqa: E402
                      covering_rows, is_claim_like, load_not_claims, normalise)
from claims import load_claims  # noqa: E402

ROWS = load_claims()
ENTRIES = load_not_claims()
ENTRY_FIELDS = ("article", "quote", "why")


def uncovered_claim_like():
    """'article: sentence' of every claim-like sentence that no row and no entry covers."""
    found = []
    for article in sorted(ARTICLE_FILES):
        for sentence in dict.fromkeys(article_sentences(article)):   # each distinct sentence once
            if (is_claim_like(sentence) and not covering_rows(sentence, ROWS, article=article)
                    and not covering_entries(sentence, ENTRIES, article=article)):
                found.append(f"{article}: {sentence}")
    return found


def test_every_claim_like_sentence_has_a_row_or_a_not_claim_entry():
    claim_like = sum(is_claim_like(s) for a in ARTICLE_FILES for s in dict.fromkeys(article_sentences(a)))
    assert claim_like > 100, f"only {claim_like} claim-like sentences: the screen or the splitter is broken"
    missing = uncovered_claim_like()
    assert not missing, (f"{len(missing)} of {claim_like} claim-like sentences have no row in book/claims.yml "
                         "and no entry in book/not_claims.yml:\n" + "\n".join(missing))


def test_every_sentence_has_a_row_or_a_not_claim_entry():
    """Stronger than the screen: the sentences that are not claim-like are accounted for too (a
    vague claim such as "Architectural innovations proved pivotal." has no number and no causal
    verb), so that the ledger's list of sentences without a row gives a reason for each."""
    missing = [f"{article}: {sentence}" for article in sorted(ARTICLE_FILES)
               for sentence in dict.fromkeys(article_sentences(article))
               if not covering_rows(sentence, ROWS, article=article)
               and not covering_entries(sentence, ENTRIES, article=article)]
    assert not missing, (f"{len(missing)} sentences have no row in book/claims.yml and no entry in "
                         "book/not_claims.yml:\n" + "\n".join(missing))


def test_not_claims_file_has_entries():
    assert len(ENTRIES) > 50, len(ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.get('article')}:{str(e.get('quote'))[:40]}" for e in ENTRIES])
def test_not_claim_entry_is_well_formed_and_verbatim_in_its_article(entry):
    assert set(entry) == set(ENTRY_FIELDS), f"fields must be {ENTRY_FIELDS}, got {sorted(entry)}"
    assert entry["article"] in ARTICLE_FILES, entry["article"]
    assert str(entry["why"]).strip(), "an entry must say why the sentence is not a claim"
    assert normalise(str(entry["quote"])) in article_text(entry["article"]), \
        f"not in article {entry['article']} (check every word and mark): {entry['quote']}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.get('article')}:{str(e.get('quote'))[:40]}" for e in ENTRIES])
def test_not_claim_entry_covers_whole_sentences(entry):
    """An entry quotes one or more whole sentences: a fragment would cover nothing."""
    sentences = article_sentences(entry["article"])
    assert any(covering_entries(s, [entry]) for s in sentences), \
        f"the quote is not a whole sentence of article {entry['article']}: {entry['quote']}"


def test_no_entry_is_listed_twice():
    twice = [key for key, n in Counter((e["article"], normalise(str(e["quote"]))) for e in ENTRIES).items() if n > 1]
    assert not twice, twice


def test_no_sentence_is_both_a_row_and_a_not_claim():
    both = []
    for article in sorted(ARTICLE_FILES):
        for sentence in dict.fromkeys(article_sentences(article)):
            rows = covering_rows(sentence, ROWS, article=article)
            if rows and covering_entries(sentence, ENTRIES, article=article):
                both.append(f"{article}: {sentence} (rows {[r['id'] for r in rows]})")
    assert not both, "\n".join(both)


if __name__ == "__main__":
    print("\n".join(uncovered_claim_like()))
