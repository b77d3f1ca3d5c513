"""The claims data file (book/claims.yml) and the results in the chapters' prose.

Each row of the claims file quotes one sentence of the two source articles, names where the book
tests it and gives a verdict with its evidence. These tests read files only (no build):

- every row is well formed (book/_ext/claims.py checks the fields, vocabularies and ids, and so
  does the build);
- every quote occurs in its article, up to whitespace, curly quotes and *emphasis* markers;
- every target label and every piece of evidence exists: a glue key is glued in the row's chapter
  (``glue("key", ...)`` with the key written out), a derivation label is defined in the book;
- every ``{claim}`` box of the book names a row, and every row is shown in a box of its chapter;
- no result is typed into the prose (see ``typed_results``).

``python tests/test_claims.py`` prints what the typed-results check inspected and found.
"""
import io
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
from articles import ARTICLE_FILES, article_text, normalise  # noqa: E402  (book/_ext/articles.py)
from claims import VERDICTS, file_problems, load_claims  # noqa: E402  (book/_ext/claims.py)
CHAPTERS = sorted(BOOK.glob("ch[0-9][0-9]_*.md"))
ROWS = load_claims()
ROW_IDS = [row.get("id", f"row {i}") for i, row in enumerate(ROWS, 1)]

# ----------------------------------------------------------------------------
# Reading the sources
# ----------------------------------------------------------------------------




def chapter_source(docname):
    return (BOOK / f"{docname}.md").read_text(encoding="utf8")


def labels_in(text):
    """MyST labels defined in a source: ``(name)=`` lines and ``:label: name`` options."""
    return set(re.findall(r"^\(([^()\s]+)\)=\s*$", text, re.M)) | set(re.findall(r"^:label:\s*(\S+)", text, re.M))


def glued_keys_in(text):
    """Keys glued in a source, as regular expressions: ``glue("key", ...)`` gives the key itself,
    ``glue(f"ch2_cos_{rho}", ...)`` a pattern in which each ``{...}`` stands for any text."""
    keys = [re.escape(key) for key in re.findall(r"""\bglue\(\s*["']([^"']+)["']""", text)]
    for template in re.findall(r"""\bglue\(\s*f["']([^"']+)["']""", text):
        keys.append(".+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template)))
    return keys


def is_glued(key, source):
    return any(re.fullmatch(pattern, key) for pattern in glued_keys_in(source))


def book_labels():
    return set().union(*(labels_in(p.read_text(encoding="utf8")) for p in BOOK.glob("*.md")))


def claim_directives():
    """(file, line number, id) of every ``{claim}`` box in the book's sources."""
    found = []
    for path in sorted(BOOK.glob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
            match = re.match(r"^\s*(?:`{3,}|:{3,})\{claim\}\s*(\S*)", line)
            if match:
                found.append((path.name, number, match.group(1)))
    return found


# ----------------------------------------------------------------------------
# The claims file
# ----------------------------------------------------------------------------


def test_claims_file_has_rows_for_the_first_chapters():
    chapters = {row.get("chapter") for row in ROWS}
    assert {"ch01_recurrent_cell", "ch02_bptt"} <= chapters, chapters


def test_every_row_is_well_formed_and_ids_are_unique():
    problems = [f"{name}: {problem}" for name, problem in file_problems(ROWS)]
    assert not problems, "\n".join(problems)


def test_no_sentence_is_judged_twice():
    """A sentence that occurs twice in an article (in two sections) gets two rows, but the same
    occurrence must not be judged by two chapters."""
    seen, twice = {}, []
    for row in ROWS:
        key = (row.get("article"), row.get("section"), normalise(str(row.get("quote"))))
        if key in seen:
            twice.append(f"{row.get('id')} and {seen[key]}: {key[2][:80]}")
        seen[key] = row.get("id")
    assert not twice, "\n".join(twice)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_quote_occurs_in_its_article(row):
    assert normalise(str(row["quote"])) in article_text(row["article"]), \
        f"{row['id']}: the quote is not in article {row['article']} (check every word and mark)"


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_target_label_is_in_its_chapter(row):
    path = BOOK / f"{row['chapter']}.md"
    assert path.exists(), f"{row['id']}: chapter {row['chapter']} has no source {path.name}"
    assert row["target"] in labels_in(chapter_source(row["chapter"])), \
        f"{row['id']}: no label ({row['target']})= in {path.name}"


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_evidence_is_a_glued_result_or_a_derivation(row):
    (kind, name), = row["evidence"].items()
    if kind == "glue":
        assert is_glued(name, chapter_source(row["chapter"])), \
            f"{row['id']}: {row['chapter']}.md never runs glue(\"{name}\", ...)"
    else:
        assert name in book_labels(), f"{row['id']}: no label ({name})= or :label: {name} in the book"


def test_every_verdict_names_an_executed_result_or_a_derivation():
    """The verdicts that judge (all but 'not testable here') rest on evidence; counted here so
    that a failure of the test above reads alongside the totals."""
    judged = [row for row in ROWS if row["verdict"] in VERDICTS[:4]]
    without = [row["id"] for row in judged if not row.get("evidence")]
    assert judged and not without, without


def test_every_claim_box_names_a_row():
    ids = set(ROW_IDS)
    unknown = [f"{name}:{number}: {{claim}} {claim_id or '(no id)'}"
               for name, number, claim_id in claim_directives() if claim_id not in ids]
    assert not unknown, "\n".join(unknown)


def test_every_row_is_shown_in_a_box_of_its_chapter():
    boxed = {(name.removesuffix(".md"), claim_id) for name, _, claim_id in claim_directives()}
    missing = [row["id"] for row in ROWS if (row["chapter"], row["id"]) not in boxed]
    assert not missing, f"rows without a {{claim}} box in their chapter: {missing}"


# ----------------------------------------------------------------------------
# Results typed into the prose
# ----------------------------------------------------------------------------
# A result is a number that code produced. In the prose it must come from the build through a
# glue role. The check reads the markdown of every chapter (not its code), the figure captions
# and alt texts in the code cells' metadata, and the `why` of the chapter's claim rows, and looks
# for numbers that look like results:
#   decimals (0.93), scientific notation (1.2e-05), percentages (14 %), numbers with a unit of
#   time, memory or speed (519 ms, 3 s, 12 MiB, 1.5×, 2x).
# Not inspected: glue and other roles ({cite}, {ref}, ...), inline code, headings, labels, code
# cells, display math and inline math (definitions: sigma(1) = 0.73 is not a result; a measured
# value written as math escapes this check, and review has to catch it). Allowed: quotes of the
# source articles (a passage in quotation marks, or a block quote, found in an article) and the
# percentages they state (and their complements: 85 % of accuracy is 15 % short), version numbers (Python 3.11), and numbers that occur as literals in the
# chapter's code cells (a percentage when its fraction does: 20 % for 0.2): those are the settings of the experiments (spectral radius 0.9, learning rate 0.01,
# the exercises' parameters) that the prose repeats, not their results.

NUMBER = r"\d+(?:[.,]\d+)*"
UNITS = r"(?:ms|µs|us|ns|s|seconds?|milliseconds?|microseconds?|minutes?|MiB|GiB|KiB|MB|GB|kB|bytes?)"
RESULT_PATTERNS = [
    ("percentage", rf"(?<![\w.]){NUMBER}\s?(?:%|per ?cent)"),
    ("unit", rf"(?<![\w.]){NUMBER}\s?{UNITS}(?![\w])"),
    ("speed-up", rf"(?<![\w.]){NUMBER}\s?[×x](?![\w])|×\s?{NUMBER}"),
    ("scientific notation", r"(?<![\w.])\d+(?:\.\d+)?[eE][-+]?\d+(?![\w])"),
    ("decimal", r"(?<![\w.])\d+\.\d+(?![\w.]*\d)"),
]
VERSION = re.compile(r"(?:Python|PyTorch|torch|numpy|NumPy|Sphinx|CUDA|Jupyter Book|jupyter-book|version|v)\s*$")
ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
INLINE_CODE = re.compile(r"`[^`]*`")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>")
QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
SKIPPED_FENCES = {"code-cell", "math", "code", "code-block", "raw", "literalinclude", "claim", "bibliography"}


def code_literals(source):
    """Values of the numeric literals in the code cells of a MyST notebook source."""
    values = set()
    for cell in re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", source, re.M | re.S):
        cell = re.sub(r"\A---\n.*?^---\n", "", cell, flags=re.M | re.S)  # the metadata: captions, alt text
        for literal in re.findall(r"(?<![\w.])\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?", cell):
            values.add(float(literal.replace("_", "")))
    return values


def number_value(text):
    """The value of a numeral as the prose writes it ('1,000' -> 1000.0, '14 %' -> 14.0)."""
    digits = re.search(r"\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?", text).group(0)
    return float(digits.replace(",", "")) if re.fullmatch(r"\d{1,3}(,\d{3})+", digits) else float(digits.replace(",", "."))


def prose_passages(source):
    """(line number, text) of the lines of a MyST notebook a reader sees as prose: markdown lines,
    and the alt texts and captions of the code cells' figures."""
    lines, passages = source.splitlines(), []
    fences = []                    # stack of (marker, directive) of the open fences
    in_math = in_meta = meta_open = False
    start = 0
    if lines and lines[0].strip() == "---":         # the notebook's front matter
        start = lines.index("---", 1) + 1 if "---" in lines[1:] else len(lines)
    for number in range(start, len(lines)):
        line, text = lines[number], lines[number].strip()
        if fences and re.fullmatch(re.escape(fences[-1][0][0]) + "{%d,}" % len(fences[-1][0]), text):
            fences.pop()
            continue
        opened = re.match(r"^(`{3,}|:{3,})\s*(?:\{([\w:-]+)\})?", text)
        if opened and (not fences or fences[-1][1] not in SKIPPED_FENCES):
            fences.append((opened.group(1), opened.group(2) or "code"))
            in_meta, meta_open = fences[-1][1] == "code-cell", False
            continue
        if fences and fences[-1][1] == "code-cell":
            if in_meta and text == "---":               # the cell's metadata, between two ---
                in_meta, meta_open = not meta_open, True
            elif in_meta and not meta_open:
                in_meta = False
            elif in_meta and re.match(r"^\s*(alt|caption):", line):
                passages.append((number + 1, line.split(":", 1)[1]))
            continue
        if fences and fences[-1][1] in SKIPPED_FENCES:
            continue
        if in_math:
            in_math = not ("$$" in text)       # closes with $$, maybe followed by (label)
            continue
        if text.startswith("$$"):
            in_math = "$$" not in text[2:]
            continue
        if not text or text.startswith(("#", "+++", "<!--", ":")) or re.fullmatch(r"\([^()]+\)=", text):
            continue
        passages.append((number + 1, line))
    return passages


def article_percentages(quotes):
    """The percentages that the articles state (the figures under test), as numbers: 85-90% gives
    85 and 90."""
    return {float(n) for n in re.findall(r"(\d+(?:\.\d+)?)(?=(?:\s?[-–]\s?\d+(?:\.\d+)?)?\s?%)", quotes)}


def typed_numbers(text, literals, quotes):
    """(kind, numeral) of each number in one passage that looks like a typed result."""
    text = ROLE.sub(" ", text)
    text = INLINE_CODE.sub(" ", text)
    text = INLINE_MATH.sub(" ", text)
    text = LINK_TARGET.sub(" ", text)
    text = QUOTED.sub(lambda m: " " if normalise(m.group(1) or m.group(2)) in quotes else m.group(0), text)
    quoted_line = re.match(r"^\s*>\s*(.*)$", text)  # a block quote of an article
    if quoted_line and normalise(quoted_line.group(1).strip('"“” ')) in quotes:
        return []
    found, taken = [], []
    for kind, pattern in RESULT_PATTERNS:
        for match in re.finditer(pattern, text):
            if any(a <= match.start() < b for a, b in taken) or VERSION.search(text[:match.start()]):
                continue
            taken.append(match.span())
            value = number_value(match.group(0))
            if kind in ("decimal", "scientific notation") and value in literals:
                continue  # a setting of the chapter's code, repeated in the prose
            stated = article_percentages(quotes)
            if kind == "percentage" and (value / 100 in literals or value in stated or 100 - value in stated):
                continue  # a fraction set in the code (0.2 as 20 %), a figure the articles state or its complement
            found.append((match.start(), kind, match.group(0)))
    return [(kind, numeral) for _, kind, numeral in sorted(found)]


def typed_results():
    """(findings as 'file:line: kind "numeral" in: passage', number of passages inspected)."""
    quotes = " ".join(article_text(a) for a in ARTICLE_FILES)
    findings, inspected = [], 0
    for path in CHAPTERS:
        source = path.read_text(encoding="utf8")
        literals = code_literals(source)
        passages = prose_passages(source)
        passages += [(f"claims.yml {row['id']}", str(row.get("why", ""))) for row in ROWS
                     if row.get("chapter") == path.stem]
        inspected += len(passages)
        for where, text in passages:
            for kind, numeral in typed_numbers(text, literals, quotes):
                findings.append(f"{path.name}:{where}: {kind} \"{numeral}\" in: {text.strip()[:120]}")
    return findings, inspected


def test_no_result_is_typed_into_the_prose():
    findings, inspected = typed_results()
    print(f"typed-results check: {inspected} passages of {len(CHAPTERS)} chapters inspected, "
          f"{len(findings)} typed results")
    assert inspected > 100 * len(CHAPTERS) // 2, f"only {inspected} passages were read: the scanner is broken"
    assert not findings, (f"{len(findings)} results typed into the prose ({inspected} passages inspected); "
                          "glue them ({glue:text}`key:fmt`):\n" + "\n".join(findings))


def test_typed_results_check_finds_what_it_should():
    """The scanner on a made-up chapter: it flags results and passes settings, quotes and roles."""
    source = "\n".join([
        "---", "jupytext: {}", "---", "# Title 0.5", "",
        "The loss fell to 0.93 in 519 ms, 14 % of the time, a 1.5× speed-up, error 1e-12.",
        "With spectral radius 0.9 the norm is {glue:text}`key:.2f`, see {cite}`p2013` and $x = 0.25$.",
        'The article says "halves the error with 0.5 of the data" (a quote) on Python 3.11.',
        "> It halves the error with 0.5 of the data.",
        "```{code-cell} ipython3", "---", "mystnb:", "  image:", '    alt: "a curve reaching 10.5"',
        "---", "rho = 0.9", "```",
        "$$", "y = 0.125 x", "$$",
        "Measured $\\sigma(1) \\approx 0.73$ is definitional, 22.5 is not.",
        "A 20 % split (a setting) gave 33 % accuracy (a result, though 33 is a literal).",
        "```{code-cell} ipython3", "split, n = 0.2, 33", "```",
    ])
    quotes = normalise("It halves the error with 0.5 of the data.")
    literals = code_literals(source)
    found = [(line, kind, numeral) for line, text in prose_passages(source)
             for kind, numeral in typed_numbers(text, literals, quotes)]
    assert [numeral for _, _, numeral in found] == ["0.93", "519 ms", "14 %", "1.5×", "1e-12", "10.5", "22.5", "33 %"]
    assert [line for line, _, _ in found] == [6, 6, 6, 6, 6, 14, 21, 22]


if __name__ == "__main__":
    findings, inspected = typed_results()
    print("\n".join(findings))
    print(f"{inspected} passages of {len(CHAPTERS)} chapters inspected, {len(findings)} typed results")


# ----------------------------------------------------------------------------
# The {claim} directive in a small Sphinx build
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_claim_directive_renders_a_row_and_warns_about_bad_ones(tmp_path):
    """A two-row claims file (one good, one with a verdict outside the vocabulary) and a page with
    a box for the good row and one for an unknown id: the box holds the quote, the verdict and a
    link to the evidence; the bad row and the unknown id are warnings (errors under -W)."""
    from sphinx.application import Sphinx

    good = {"id": "ch01-good", "article": "A", "section": "Sec", "quote": "RNNs have loops",
            "kind": "factual", "chapter": "ch01_page", "target": "ch1-target",
            "evidence": {"derivation": "ch1-derivation"}, "verdict": "holds with conditions",
            "why": "Because of *the* loop."}
    bad = dict(good, id="ch01-bad", verdict="partly")
    (tmp_path / "claims.yml").write_text(yaml.safe_dump({"claims": [good, bad]}), encoding="utf8")
    (tmp_path / "conf.py").write_text(
        f"extensions = ['myst_parser', 'claims']\nclaims_file = {str(tmp_path / 'claims.yml')!r}\n"
        f"import sys; sys.path.insert(0, {str(BOOK / '_ext')!r})\n", encoding="utf8")
    (tmp_path / "index.md").write_text("\n".join([
        "# Page", "", "(ch1-target)=", "## Tested here", "", "(ch1-derivation)=", "Derived.", "",
        "```{claim} ch01-good", "```", "", "```{claim} ch01-nowhere", "```", ""]), encoding="utf8")
    warnings = io.StringIO()
    app = Sphinx(str(tmp_path), str(tmp_path), str(tmp_path / "_build"), str(tmp_path / "_doctrees"),
                 "html", status=None, warning=warnings, freshenv=True)
    app.build()
    log = warnings.getvalue()
    assert "ch01-bad: verdict 'partly' is not one of" in log, log
    assert "{claim} ch01-nowhere: no row of" in log, log
    assert log.count("WARNING") == 2, log
    html = (tmp_path / "_build" / "index.html").read_text(encoding="utf8")
    box = html[html.index('class="claim claim-holds-with-conditions'):]
    box = box[:box.index("</div>")]
    assert "“RNNs have loops”" in box and "Verdict: holds with conditions." in box
    assert "<em>the</em> loop" in box, "the why text is parsed as MyST"
    assert 'href="#ch1-derivation"' in box, box
