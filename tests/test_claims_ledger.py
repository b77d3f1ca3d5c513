"""The claims-ledger appendix (book/appendix_claims_ledger.md, the {claims-ledger} directive of
book/_ext/ledger.py).

- The counts of the summary, computed by ``ledger.count_table``, equal a plain recount of
  book/claims.yml; every judged row names an executed result or a derivation.
- The helpers: glue roles rewritten to paste from another page, the format of a pasted value,
  the labels that stand above a heading.
- A small Sphinx project (one chapter notebook with a stored glued value, a ledger page, a
  three-row claims file) renders the three parts: the summary's numbers, each row's box with its
  verdict class, the value pasted from the chapter, links that resolve to ids of the chapter page,
  and the dropdown of uncovered sentences with their reasons; a bad part name is a warning.
- ``ledger_page_problems`` (tests/ledger_check.py) checks a built ledger page against the claims file (every row's box,
  every link of it resolving to an id of its target page, pasted evidence, the summary's
  numbers). tests/test_book.py runs it on the full book it builds; here it runs on the small
  project, where it must pass, and on a copy with a target id removed, where it must fail.
"""
import io
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
sys.path.insert(0, str(Path(__file__).parent))
from claims import KINDS, VERDICTS, load_claims  # noqa: E402  (book/_ext/claims.py)
from articles import article_sentences, covering_rows  # noqa: E402  (book/_ext/articles.py)
from ledger_check import ledger_page_problems, summary_numbers  # noqa: E402  (tests/ledger_check.py)
from ledger import (JUDGED, chapter_number, count_table, cross_page_glue, group_by_chapter,  # noqa: E402
                    heading_labels, text_format, well_formed)

ROWS = load_claims()

# ----------------------------------------------------------------------------
# The counts and the evidence, from the claims file
# ----------------------------------------------------------------------------


def test_summary_counts_equal_a_recount_of_the_file():
    """Over the well-formed rows, the ones the ledger shows (tests/test_claims.py requires all)."""
    rows = well_formed(ROWS)
    assert len(rows) > 200, f"only {len(rows)} well-formed rows"
    for field, order in (("verdict", VERDICTS), ("article", ("A", "B")), ("kind", KINDS)):
        table = count_table(rows, lambda row: row[field], order)
        assert {name: counts["rows"] for name, counts in table.items()} == {
            name: sum(row[field] == name for row in rows) for name in order}
        assert list(table) == list(order)
    by_chapter = count_table(rows, chapter_number)
    assert {n: c["rows"] for n, c in by_chapter.items()} == Counter(int(row["id"][2:4]) for row in rows)
    for name, counts in by_chapter.items():
        mine = [row for row in rows if int(row["id"][2:4]) == name]
        assert all(counts[v] == sum(row["verdict"] == v for row in mine) for v in VERDICTS)
        assert counts["glue"] + counts["derivation"] == counts["rows"] == sum(counts[v] for v in VERDICTS)
    assert list(group_by_chapter(rows)) == sorted(by_chapter)


def test_count_table_on_rows_counted_by_hand():
    rows = [{"id": "ch02-a", "verdict": "holds", "evidence": {"glue": "k"}},
            {"id": "ch01-b", "verdict": "holds", "evidence": {"derivation": "d"}},
            {"id": "ch02-c", "verdict": "does not hold", "evidence": {"glue": "k2"}}]
    table = count_table(rows, chapter_number)
    assert list(table) == [1, 2]
    assert table[2] == Counter({"rows": 2, "holds": 1, "does not hold": 1, "glue": 2})
    assert table[1] == Counter({"rows": 1, "holds": 1, "derivation": 1})
    with pytest.raises(ValueError, match="order must name every group"):
        count_table(rows, chapter_number, order=[1])
    with pytest.raises(ValueError, match="chNN-"):
        chapter_number({"id": "c2-x"})


def test_every_judged_row_names_an_executed_result_or_a_derivation():
    judged = [row for row in ROWS if isinstance(row, dict) and row.get("verdict") in JUDGED]
    assert JUDGED == ("holds", "holds with conditions", "does not hold", "not shown either way")
    assert len(judged) > len(ROWS) // 2, f"only {len(judged)} of {len(ROWS)} rows are judged"
    without = [row.get("id") for row in judged
               if not (isinstance(row.get("evidence"), dict) and len(row["evidence"]) == 1
                       and set(row["evidence"]) <= {"glue", "derivation"} and all(row["evidence"].values()))]
    assert not without, f"judged rows without an executed result or a derivation: {without}"


# ----------------------------------------------------------------------------
# Helpers of ledger.py
# ----------------------------------------------------------------------------


def test_cross_page_glue_rewrites_glue_roles_only():
    text = ("{glue:text}`a:.2f` and {glue:text}`b` then {glue}`c`, {glue:any}`d`, "
            "{ref}`x`, {glue:md}`e` and {cite:p}`k`")
    assert cross_page_glue(text, "ch03_x.md") == (
        "{glue:text}`ch03_x.md::a:.2f` and {glue:text}`ch03_x.md::b:s` then {glue}`ch03_x.md::c`, "
        "{glue:any}`ch03_x.md::d`, {ref}`x`, {glue:md}`e` and {cite:p}`k`")


def test_text_format_is_the_first_text_role_of_the_key():
    assert text_format("k", "no role", "{glue:text}`k:.3f` {glue:text}`k:.1e`") == ".3f"
    assert text_format("k", "{glue:text}`k` first", "{glue:text}`k:.3f`") == "s"
    assert text_format("k", "{glue:text}`k2:.3f`", "{glue:figure}`k`") is None


def test_heading_labels_are_the_labels_right_above_a_heading(tmp_path):
    (tmp_path / "a.md").write_text("(above)=\n\n## Heading\n\n(para)=\nText.\n(h1)=\n# Title\n", encoding="utf8")
    (tmp_path / "b.txt").write_text("(other)=\n# Not a page\n", encoding="utf8")
    assert heading_labels(tmp_path) == {"above", "h1"}


# ----------------------------------------------------------------------------
# The directive in a small Sphinx project
# ----------------------------------------------------------------------------

GLUED = "0.123456"


def _chapter_notebook():
    """A notebook with stored outputs (not executed in the test) gluing ``k1`` and a label."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell('from myst_nb import glue\nglue("k1", 0.123456, display=False)')
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": GLUED},
        metadata={"scrapbook": {"name": "k1", "mime_prefix": "application/papermill.record/"}})]
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# The first chapter\n\n(ch1-target)=\n## Tested here\n\n"
                                      "Value {glue:text}`k1:.2f`.\n\n(ch1-passage)=\nA derivation in a paragraph."),
        cell,
        nbformat.v4.new_markdown_cell("(ch1-derivation)=\n## Derived"),
    ]
    return notebook


def _rows():
    base = {"article": "A", "section": "Key Takeaways", "kind": "factual", "chapter": "ch01_page",
            "target": "ch1-target"}
    return [
        dict(base, id="ch01-glued", quote="They can be challenging to train", evidence={"glue": "k1"},
             verdict="holds", why="Measured {glue:text}`k1:.3f`, with *care*."),
        dict(base, id="ch01-derived", quote="They have a memory component", kind="causal",
             evidence={"derivation": "ch1-derivation"}, verdict="holds with conditions", why="Derived."),
        dict(base, id="ch01-passage", article="B", quote="Predicting stock prices using historical trends", kind="numeric",
             evidence={"derivation": "ch1-passage"}, verdict="not testable here", why="See the passage."),
    ]


def build_small_project(folder, rows, ledger_source):
    """Build a Sphinx project with one chapter notebook and a ledger page; (its warning lines,
    html folder)."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    (folder / "claims.yml").write_text(yaml.safe_dump({"claims": rows}), encoding="utf8")
    (folder / "not_claims.yml").write_text(yaml.safe_dump({"not_claims": [
        {"article": "A", "quote": "Key Takeaways", "why": "a section heading"}]}), encoding="utf8")
    (folder / "conf.py").write_text("\n".join([
        f"import sys; sys.path.insert(0, {str(BOOK / '_ext')!r})",
        "extensions = ['myst_nb', 'sphinx_design', 'claims', 'ledger']",
        "nb_execution_mode = 'off'",
        # a dict of this project's own: myst-nb adds '.md' to it, and Sphinx's default dict would
        # carry that into the next build of the process (test_claims.py's, without myst-nb)
        "source_suffix = {'.rst': 'restructuredtext'}",
        f"claims_file = {str(folder / 'claims.yml')!r}",
        f"not_claims_file = {str(folder / 'not_claims.yml')!r}",
        "suppress_warnings = ['myst.header']", ""]), encoding="utf8")
    (folder / "index.md").write_text("# Book\n\n```{toctree}\nch01_page\nledger\n```\n", encoding="utf8")
    nbformat.write(_chapter_notebook(), folder / "ch01_page.ipynb")
    (folder / "ledger.md").write_text(ledger_source, encoding="utf8")
    warnings = io.StringIO()
    with docutils_namespace():  # node classes registered by this build are forgotten after it
        app = Sphinx(str(folder), str(folder), str(folder / "_build"), str(folder / "_doctrees"),
                     "html", status=None, warning=warnings, freshenv=True)
        app.build()
    return project_warnings(warnings.getvalue()), folder / "_build"


def project_warnings(log):
    """The warning lines of a build log, less Sphinx's notes that a node class, directive or role
    registered by an earlier build in the same process (another test's) is registered again."""
    return "\n".join(line for line in log.splitlines()
                     if "WARNING" in line and not re.search(r"is already registered, (its visitors|it) will be overridden", line))


LEDGER_SOURCE = "\n".join([
    "# Ledger", "", "## Summary", "", "```{claims-ledger} summary", "```", "",
    "## Rows", "", "```{claims-ledger} rows", "```", "",
    "## Uncovered", "", "```{claims-ledger} uncovered", "```", ""])


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ledger")
    return build_small_project(folder, _rows(), LEDGER_SOURCE)


@pytest.mark.slow
def test_small_project_builds_without_warnings(small_build):
    log, _ = small_build
    assert "WARNING" not in log, log


@pytest.mark.slow
def test_ledger_renders_the_summary_rows_and_uncovered_sentences(small_build):
    from bs4 import BeautifulSoup

    _, html = small_build
    soup = BeautifulSoup((html / "ledger.html").read_text(encoding="utf8"), "html.parser")
    # counted by hand from _rows(): one row per verdict of the first two and the last; 1 glued, 2 derived
    assert summary_numbers(soup, "ledger-by-verdict") == {
        "holds": [1, 1, 0], "holds with conditions": [1, 0, 1], "does not hold": [0, 0, 0],
        "not shown either way": [0, 0, 0], "not testable here": [1, 0, 1], "all rows": [3, 1, 2]}
    assert summary_numbers(soup, "ledger-by-article") == {
        "article A": [2, 1, 1, 0, 0, 0, 1, 1], "article B": [1, 0, 0, 0, 0, 1, 0, 1], "all rows": [3, 1, 1, 0, 0, 1, 1, 2]}
    assert summary_numbers(soup, "ledger-by-kind")["comparative"] == [0] * 8
    assert list(summary_numbers(soup, "ledger-by-kind")) == [*KINDS, "all rows"]
    assert list(summary_numbers(soup, "ledger-by-chapter")) == ["Chapter 1", "all rows"]
    text = soup.get_text(" ", strip=True)
    assert "The claims file has 3 rows. 2 of them are judged" in text
    assert "1 by an executed result of the book, 1 by a derivation" in text

    section = soup.find("section", id="ledger-ch01")
    assert section is not None and section.find(["h2", "h3"]).get_text().startswith("Chapter 1: The first chapter")
    glued = soup.find(id="ch01-glued")
    assert "claim-holds" in glued["class"] and "claims-ledger-row" in glued["class"]
    assert "“They can be challenging to train”" in glued.get_text()
    assert "Verdict: holds." in glued.get_text() and glued.find("em", string="care")
    pasted = [span.get_text() for span in glued.find_all(class_="pasted-text")]
    assert pasted == ["0.123", "0.123"], "the why's value (.3f) and the evidence (the why's format)"
    hrefs = [a["href"] for a in glued.find_all("a", href=True)]
    assert "ch01_page.html#ch1-target" in hrefs and "ch01_page.html" in hrefs
    derived = soup.find(id="ch01-derived")
    assert "claim-holds-with-conditions" in derived["class"]
    assert derived.find("a", href="ch01_page.html#ch1-derivation").get_text() == "Derived"
    passage = soup.find(id="ch01-passage")
    assert passage.find("a", href="ch01_page.html#ch1-passage").get_text() == "in this passage"

    dropdowns = soup.find_all("details")
    titles = [d.find("summary").get_text(" ", strip=True) for d in dropdowns]
    for (article, covered), title in zip({"A": 2, "B": 1}.items(), titles, strict=True):
        sentences = article_sentences(article)
        uncovered = [s for s in sentences if not covering_rows(s, _rows(), article)]
        assert len(uncovered) == len(sentences) - covered, "the rows of the article quote one sentence each"
        assert title == f"Article {article}: {len(uncovered)} of its {len(sentences)} sentences have no row"
    items = [li.get_text(" ", strip=True) for li in dropdowns[0].find_all("li")]
    assert len(items) == len(article_sentences("A")) - 2
    assert "“Key Takeaways” — a section heading" in items
    assert "“Understanding RNNs” — no number, comparison word or causal verb" in items
    assert not any("challenging to train" in item for item in items), "a covered sentence is listed"
    assert any(item.endswith("a claim still without a row (claim-like, and not in not_claims.yml)") for item in items)


@pytest.mark.slow
def test_ledger_page_check_passes_on_the_small_build_and_finds_a_broken_link(small_build, tmp_path):
    _, html = small_build
    assert ledger_page_problems(html, _rows(), page="ledger.html") == []
    broken = tmp_path / "html"
    shutil.copytree(html, broken)
    chapter = broken / "ch01_page.html"
    chapter.write_text(chapter.read_text(encoding="utf8").replace('id="ch1-target"', 'id="elsewhere"'), encoding="utf8")
    problems = ledger_page_problems(broken, _rows() + [dict(_rows()[0], id="ch01-missing")], page="ledger.html")
    assert "ch01-glued: link ch01_page.html#ch1-target: no id 'ch1-target' in ch01_page.html" in problems
    assert "ch01-missing: no box on the page" in problems
    assert [problem.split(" {")[0] for problem in problems if problem.startswith("summary")] == [
        "summary by verdict", "summary by article", "summary by kind"], "the extra row is not counted"


@pytest.mark.slow
def test_a_bad_part_and_a_page_outside_the_book_are_warnings(tmp_path):
    rows = _rows()[:1] + [dict(_rows()[1], chapter="ch01_elsewhere")]
    log, html = build_small_project(tmp_path, rows, "\n".join([
        "# Ledger", "", "```{claims-ledger} everything", "```", "", "```{claims-ledger} rows", "```", "",
        "```{claims-ledger} summary", "```", ""]))
    assert "{claims-ledger}: the part must be one of summary, rows, uncovered, got 'everything'" in log, log
    assert "{claims-ledger}: 1 rows name the page ch01_elsewhere, which is not in the book" in log, log
    assert log.count("WARNING") == 2, f"one warning for the page outside the book, not one per part: {log}"
    page = (html / "ledger.html").read_text(encoding="utf8")
    assert 'id="ch01-glued"' in page and 'id="ch01-derived"' not in page
