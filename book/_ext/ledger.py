"""The ``{claims-ledger}`` directive: the whole claims file (book/claims.yml) on one page.

The claims-ledger appendix (book/appendix_claims_ledger.md) places it three times, one part each:

    ```{claims-ledger} summary
    ```

tables of row counts by article, by kind and by chapter, each against the verdict and against
the kind of evidence (an executed result, i.e. a glued value, or a derivation);

    ```{claims-ledger} rows
    ```

every row, one section per chapter, in file order: one box per row (the {claim} box's classes,
so claims.css colours it by verdict) with the quote, the article and its section, the kind, a
link to the section of the book that tests it, the evidence and the verdict with its why;

    ```{claims-ledger} uncovered
    ```

the articles' sentences that no row covers (book/_ext/articles.py), in a collapsed dropdown per
article, each with the reason from book/not_claims.yml where one is given.

Glued values live in the page that glued them. The ledger pastes them with myst-nb's cross-page
glue, ``{glue:text}`<page>.md::<key>:<format>```, which myst-nb resolves after every page is
read, from the glue cache the chapter's execution wrote. The ``why`` of a row has its
``{glue:text}`` and ``{glue}`` roles rewritten that way; the evidence is pasted with the format
that the row's ``why`` (or else the chapter's prose) gives the same key, and named without a
value when neither pastes it as text (a figure, a table). A malformed row is left out (the
{claim} extension warns about it when the build starts; this directive warns once more).
Registered in _config.yml under ``sphinx: local_extensions``.
"""
import json
import posixpath
import re
from collections import Counter
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from articles import (NOT_CLAIMS_FILE, article_sentences, covering_entries,  # book/_ext/articles.py
                      covering_rows, is_claim_like, load_not_claims)
from claims import ARTICLES, KINDS, VERDICTS, load_claims, prefix_verdict, row_problems, verdict_class

logger = logging.getLogger(__name__)

PARTS = ("summary", "rows", "uncovered")
#: The verdicts that judge a claim: each rests on an executed result or a derivation.
JUDGED = VERDICTS[:4]
EVIDENCE_NAMES = {"glue": "executed result", "derivation": "derivation"}

#: A glue role of a why text: the role's name (glue, glue:text, glue:any), the key, the format.
GLUE_ROLE = re.compile(r"\{(glue(?::text|:any)?)\}`([^`:]+)(?::([^`]*))?`")


# ----------------------------------------------------------------------------
# Counting and grouping (pure functions of the rows)
# ----------------------------------------------------------------------------


def well_formed(rows):
    """The rows of the claims file that ``claims.row_problems`` finds nothing wrong with, in order."""
    return [row for row in rows if not row_problems(row)]


def chapter_number(row):
    """The chapter of a row as the number of its id's prefix: ``ch06-...`` -> 6."""
    match = re.match(r"ch(\d+)-", str(row["id"]))
    if not match:
        raise ValueError(f"row id must start with chNN-, got {row['id']!r}")
    return int(match.group(1))


def evidence_kind(row):
    """``'glue'`` or ``'derivation'``: the kind of the row's evidence."""
    (kind, _), = row["evidence"].items()
    return kind


def count_table(rows, group, order=None):
    """Row counts of one grouping, against verdict and evidence kind.

    Args:
        rows: well-formed rows of the claims file.
        group: a function of a row giving its group (its article, kind or chapter number).
        order: every group, in the order wanted (e.g. ``KINDS``: a kind without rows gets zero
            counts); None: the groups that have rows, sorted.

    Returns:
        A dict from each group to a Counter with keys ``'rows'``, each verdict, ``'glue'`` and
        ``'derivation'``.
    """
    table = {}
    for row in rows:
        counts = table.setdefault(group(row), Counter())
        counts["rows"] += 1
        counts[row["verdict"]] += 1
        counts[evidence_kind(row)] += 1
    if order is None:
        order = sorted(table)
    if not set(table) <= set(order):
        raise ValueError(f"order must name every group, got {list(order)!r} for groups {sorted(table, key=str)!r}")
    return {name: table.get(name, Counter()) for name in order}


def group_by_chapter(rows):
    """{chapter number: its rows in file order}, chapters in increasing order."""
    groups = {}
    for row in rows:
        groups.setdefault(chapter_number(row), []).append(row)
    return dict(sorted(groups.items()))


# ----------------------------------------------------------------------------
# Glue across pages
# ----------------------------------------------------------------------------


def cross_page_glue(text, page):
    """A why text with its glue roles pasting from ``page``, the chapter's source relative to the
    ledger: ``{glue:text}`k:.2f``` -> ``{glue:text}`ch03_x.md::k:.2f```. A role without a format
    gets ``:s`` (myst-nb reads the part after the last colon as the format)."""
    def rewrite(match):
        role, key, fmt = match.groups()
        if role == "glue:text":
            return f"{{{role}}}`{page}::{key}:{fmt or 's'}`"
        return f"{{{role}}}`{page}::{key}`" if fmt is None else match.group(0)
    return GLUE_ROLE.sub(rewrite, text)


def text_format(key, *texts):
    """The format that the first of ``texts`` pasting ``key`` as text gives it (``'s'`` for a
    ``{glue:text}`` role without one), or None when no text pastes it with ``{glue:text}``."""
    role = re.compile(r"\{glue:text\}`" + re.escape(key) + r"(?::([^`]*))?`")
    for text in texts:
        match = role.search(text)
        if match:
            return match.group(1) or "s"
    return None


# ----------------------------------------------------------------------------
# Node helpers
# ----------------------------------------------------------------------------


def verdict_badge(verdict):
    """An inline node with the verdict, coloured as the {claim} boxes colour it (claims.css)."""
    return nodes.inline(text=verdict, classes=["claim-verdict", verdict_class(verdict)])


def table_node(header, body, caption, name, classes=()):
    """A docutils table with a caption: ``header`` a list of cells, ``body`` a list of rows of
    cells; a cell is a str or an inline node; ``name`` the table's id."""
    width = len(header)
    for row in body:
        if len(row) != width:
            raise ValueError(f"body rows must have {width} cells like the header, got {len(row)}: {row!r}")
    table = nodes.table(ids=[name], classes=list(classes))
    table += nodes.title(text=caption)
    group = nodes.tgroup(cols=width)
    table += group
    group += [nodes.colspec(colwidth=1) for _ in header]

    def row_node(cells):
        row = nodes.row()
        for cell in cells:
            content = nodes.Text(cell) if isinstance(cell, str) else cell
            row += nodes.entry("", nodes.paragraph("", "", content))
        return row

    group += nodes.thead("", row_node(header))
    group += nodes.tbody("", *[row_node(cells) for cells in body])
    return table


def summary_table(rows, heading, group, order=None, label=str, by_verdict=True):
    """A table of ``count_table(rows, group, order)`` plus a line for all rows.

    Columns: ``heading`` (the group, written by ``label``), rows, one per verdict (unless
    ``by_verdict`` is False), executed result, derivation."""
    verdicts = VERDICTS if by_verdict else ()
    header = [heading, "rows", *map(verdict_badge, verdicts), "executed result", "derivation"]
    columns = ["rows", *verdicts, "glue", "derivation"]
    body = [[label(name), *(str(counts[c]) for c in columns)]
            for name, counts in count_table(rows, group, order).items()]
    total = count_table(rows, lambda row: "all rows")["all rows"]
    body.append([nodes.strong(text="all rows"), *(nodes.strong(text=str(total[c])) for c in columns)])
    return table_node(header, body, f"Rows by {heading}", f"ledger-by-{heading}", classes=["claims-ledger-summary"])


# ----------------------------------------------------------------------------
# The directive
# ----------------------------------------------------------------------------


def heading_labels(folder):
    """The MyST labels ``(name)=`` that stand right above a heading in the .md and .ipynb pages of
    a folder: a {ref} to one of them without a title of its own shows the heading's; a {ref} to
    any other label needs a title."""
    labels = set()
    for path in sorted(Path(folder).glob("*.md")) + sorted(Path(folder).glob("*.ipynb")):
        labels.update(re.findall(r"^\(([^()\s]+)\)=[ \t]*\n(?:[ \t]*\n)*#{1,6} ", page_markdown(path), re.M))
    return labels


def reference(label, titled, text):
    """A MyST {ref} to ``label``: bare (the heading's title) when ``label`` is in ``titled``,
    else with ``text``."""
    return f"{{ref}}`{label}`" if label in titled else f"{{ref}}`{text} <{label}>`"


def page_markdown(path):
    """The MyST text of a page: a .md file whole, the markdown cells of an .ipynb."""
    text = Path(path).read_text(encoding="utf8")
    if Path(path).suffix != ".ipynb":
        return text
    cells = json.loads(text).get("cells", [])
    return "\n\n".join("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                        for cell in cells if cell.get("cell_type") == "markdown")


def page_title(path):
    """The first level-1 heading of a page's source (its title), or None."""
    match = re.search(r"^# (.+?)\s*$", page_markdown(path), re.M)
    return match.group(1) if match else None


class ClaimsLedgerDirective(SphinxDirective):
    """```{claims-ledger} summary|rows|uncovered``` : one part of the claims ledger."""

    required_arguments = 1
    has_content = False

    def run(self):
        part = self.arguments[0]
        if part not in PARTS:
            logger.warning(f"{{claims-ledger}}: the part must be one of {', '.join(PARTS)}, got {part!r}",
                           location=self.get_location(), type="claims")
            return []
        path = self.config.claims_file
        self.env.note_dependency(path)
        rows = load_claims(path)
        good = well_formed(rows)
        if len(good) < len(rows):
            logger.warning(f"{{claims-ledger}}: {len(rows) - len(good)} malformed rows of {path} are left out",
                           location=self.get_location(), type="claims")
        missing = Counter(row["chapter"] for row in good if self.docname(row["chapter"]) not in self.env.found_docs)
        warned = self.env.temp_data.setdefault("claims_ledger_missing", set())  # once per page, not per part
        for chapter, count in missing.items():
            if chapter in warned:
                continue
            warned.add(chapter)
            logger.warning(f"{{claims-ledger}}: {count} rows name the page {chapter}, which is not in the book "
                           "(the table of contents): they are left out", location=self.get_location(), type="claims")
        self.rows = [row for row in good if row["chapter"] not in missing]
        return getattr(self, f"render_{part}")(self.rows)

    # -- pages of the book ---------------------------------------------------

    def docname(self, chapter):
        """The docname of a row's chapter (rows name it relative to the ledger's folder)."""
        return posixpath.join(posixpath.dirname(self.env.docname), chapter)

    def relative_source(self, chapter):
        """The chapter's source file, relative to the ledger page (for cross-page glue)."""
        source = Path(self.env.doc2path(self.docname(chapter)))
        ledger_folder = Path(self.env.doc2path(self.env.docname)).parent
        return posixpath.relpath(source.as_posix(), ledger_folder.as_posix())

    def chapter_title(self, number, rows):
        """'Chapter N: <title of its landing page>' (the page that holds the others in the table
        of contents; the first page of the chapter when there is no table of contents)."""
        pages = sorted({self.docname(row["chapter"]) for row in rows})
        site_map = getattr(self.env, "external_site_map", None) or getattr(self.config, "external_site_map", None)
        landing = pages[0]
        if site_map is not None:
            prefix = f"ch{number:02d}_"
            pages = sorted(set(pages) | {doc for doc in site_map if posixpath.basename(doc).startswith(prefix)})
            for page in pages:
                if page in site_map and any(item in pages for tree in site_map[page].subtrees for item in tree.items):
                    landing = page
                    break
        source = self.env.doc2path(landing)
        title = page_title(source) if Path(source).exists() else None
        return f"Chapter {number}: {title}" if title else f"Chapter {number}"

    def chapter_whys(self, chapter):
        """The why texts of all the rows of a chapter."""
        return [str(row["why"]) for row in self.rows if row["chapter"] == chapter]

    def parse(self, markdown, node):
        """Parse MyST text into ``node`` (roles of the text resolve as in any page)."""
        self.state.nested_parse(StringList(markdown.splitlines(), source=self.config.claims_file),
                                self.content_offset, node)
        return node

    # -- the three parts -----------------------------------------------------

    def render_summary(self, rows):
        judged = [row for row in rows if row["verdict"] in JUDGED]
        by_result = sum(evidence_kind(row) == "glue" for row in judged)
        sentence = nodes.paragraph(text=(
            f"The claims file has {len(rows)} rows. {len(judged)} of them are judged (a verdict other "
            f"than “not testable here”): {by_result} by an executed result of the book, "
            f"{len(judged) - by_result} by a derivation. The tables count the rows by verdict, "
            "article, kind and chapter, with the kind of evidence each rests on."))
        return [
            sentence,
            summary_table(rows, "verdict", lambda row: row["verdict"], VERDICTS, label=verdict_badge, by_verdict=False),
            summary_table(rows, "article", lambda row: row["article"], ARTICLES, label=lambda a: f"article {a}"),
            summary_table(rows, "kind", lambda row: row["kind"], KINDS),
            summary_table(rows, "chapter", chapter_number, label="Chapter {}".format),
        ]

    def render_rows(self, rows):
        sections = []
        titled = heading_labels(Path(self.env.doc2path(self.env.docname)).parent)
        for number, group in group_by_chapter(rows).items():
            title = self.chapter_title(number, group)
            section = nodes.section(ids=[f"ledger-ch{number:02d}"])
            section += nodes.title(text=title)
            self.state.document.note_implicit_target(section, section)
            pages = list(dict.fromkeys(row["chapter"] for row in group))
            judged = sum(row["verdict"] in JUDGED for row in group)
            self.parse(f"{len(group)} rows, {judged} of them judged, tested on "
                       + ", ".join(f"{{doc}}`{page}`" for page in pages) + ".", section)
            for row in group:
                section += self.row_box(row, titled)
            sections.append(section)
        return sections

    def row_box(self, row, titled):
        """The box of one row: an admonition with the {claim} box's classes; ``titled``: the
        labels that stand above a heading (see ``heading_labels``)."""
        source = self.env.doc2path(self.docname(row["chapter"]))
        self.env.note_dependency(source)
        page = self.relative_source(row["chapter"])
        box = nodes.admonition(ids=[nodes.make_id(row["id"])],
                               classes=["claim", verdict_class(row["verdict"]), "claims-ledger-row"])
        box += nodes.title(text=f"Article {row['article']}, “{row['section']}” · {row['kind']} · {row['id']}")
        quote = " ".join(str(row["quote"]).split())
        box += nodes.paragraph("", "", nodes.emphasis(text=f"“{quote}”"))

        (kind, name), = row["evidence"].items()
        if kind == "glue":
            chapter_source = Path(source).read_text(encoding="utf8") if Path(source).exists() else ""
            fmt = text_format(name, str(row["why"]), *self.chapter_whys(row["chapter"]), chapter_source)
            value = f": {{glue:text}}`{page}::{name}:{fmt}`" if fmt else " (not text: see the section)"
            evidence = f"Evidence: the executed result `{name}`{value}."
        else:
            evidence = f"Evidence: the derivation {reference(name, titled, 'in this passage')}."
        markdown = "\n\n".join([cross_page_glue(str(row["why"]), page),
                                f"Tested in {reference(row['target'], titled, 'this section')} ({{doc}}`{row['chapter']}`). {evidence}"])
        parsed = self.parse(markdown, nodes.container())
        prefix_verdict(parsed, row["verdict"])
        parsed.children[-1]["classes"].append("claims-ledger-where")
        box += parsed.children
        return box

    def render_uncovered(self, rows):
        path = Path(self.config.not_claims_file)
        self.env.note_dependency(str(path))
        not_claims = load_not_claims(path) if path.exists() else []
        out = []
        for article in ARTICLES:
            sentences = article_sentences(article)
            items = nodes.bullet_list(classes=["claims-ledger-uncovered"])
            for sentence in sentences:
                if covering_rows(sentence, rows, article):
                    continue
                entries = covering_entries(sentence, not_claims, article)
                if entries:
                    reason = str(entries[0].get("why", "")).strip() or "listed in not_claims.yml without a reason"
                elif not is_claim_like(sentence):
                    reason = "no number, comparison word or causal verb"
                else:
                    reason = "a claim still without a row (claim-like, and not in not_claims.yml)"
                items += nodes.list_item("", nodes.paragraph(
                    "", "", nodes.Text(f"“{sentence}” — "), nodes.emphasis(text=reason)))
            count = len(items.children)
            dropdown = self.parse(f"```{{dropdown}} Article {article}: {count} of its {len(sentences)} "
                                  "sentences have no row\n```", nodes.container())
            dropdown.children[0] += items
            out += dropdown.children
        return out


def setup(app):
    app.setup_extension("claims")
    app.add_config_value("not_claims_file", str(NOT_CLAIMS_FILE), "env")
    app.add_directive("claims-ledger", ClaimsLedgerDirective)
    app.add_css_file("ledger.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
