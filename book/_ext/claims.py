"""The ``{claim}`` directive: one row of book/claims.yml rendered as a box in a chapter.

    ```{claim} ch01-cnn-no-memory
    ```

renders an admonition with the classes ``claim`` and ``claim-<verdict>``: the quoted words, the
article and its section, the verdict, the row's ``why`` (parsed as MyST, so ``{glue:text}`` roles
of the chapter work) and a link to the evidence (the section labelled ``target`` for a glued
result, the label of the derivation otherwise).

The rows are checked when the build starts: a missing field, a verdict or kind outside the
vocabulary, malformed evidence or a repeated id is a build warning, and so is a directive naming
an unknown id. The book builds with ``-W``, so each of them fails the build.
Registered in _config.yml under ``sphinx: local_extensions``.
"""
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

FIELDS = ("id", "article", "section", "quote", "kind", "chapter", "target", "evidence", "verdict", "why")
VERDICTS = ("holds", "holds with conditions", "does not hold", "not shown either way", "not testable here")
KINDS = ("numeric", "causal", "comparative", "factual", "equation")
ARTICLES = ("A", "B")
EVIDENCE_KINDS = ("glue", "derivation")
CLAIMS_FILE = Path(__file__).resolve().parents[1] / "claims.yml"
STATIC = Path(__file__).resolve().parent / "static"


def load_claims(path=CLAIMS_FILE):
    """The rows of the claims file, a list of dicts, in file order (an empty file gives [])."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf8")) or {}
    return data.get("claims") or []


def row_problems(row):
    """What is wrong with one row, as a list of sentences (empty when the row is well formed)."""
    if not isinstance(row, dict):
        return [f"a row must be a mapping of fields, got {type(row).__name__}: {row!r}"]
    problems = [f"field '{field}' is missing or empty" for field in FIELDS if not row.get(field)]
    problems += [f"unknown field '{field}'" for field in row if field not in FIELDS]
    if row.get("verdict") and row["verdict"] not in VERDICTS:
        problems.append(f"verdict '{row['verdict']}' is not one of: {', '.join(VERDICTS)}")
    if row.get("kind") and row["kind"] not in KINDS:
        problems.append(f"kind '{row['kind']}' is not one of: {', '.join(KINDS)}")
    if row.get("article") and row["article"] not in ARTICLES:
        problems.append(f"article '{row['article']}' is not one of: {', '.join(ARTICLES)}")
    evidence = row.get("evidence")
    if evidence and not (isinstance(evidence, dict) and len(evidence) == 1
                         and next(iter(evidence)) in EVIDENCE_KINDS and next(iter(evidence.values()))):
        problems.append(f"evidence must be {{glue: <key>}} or {{derivation: <label>}}, got {evidence!r}")
    if row.get("id") and row.get("chapter") and not str(row["id"]).startswith(str(row["chapter"])[:4] + "-"):
        problems.append(f"id '{row['id']}' does not start with its chapter's prefix '{str(row['chapter'])[:4]}-'")
    return problems


def file_problems(rows):
    """(id or row number, problem) for every malformed row and every repeated id."""
    found, seen = [], set()
    for number, row in enumerate(rows, start=1):
        name = row.get("id", f"row {number}") if isinstance(row, dict) else f"row {number}"
        found += [(name, problem) for problem in row_problems(row)]
        if name in seen:
            found.append((name, "this id is used by an earlier row too"))
        seen.add(name)
    return found


def verdict_class(verdict):
    """CSS class of a verdict: 'holds with conditions' -> 'claim-holds-with-conditions'."""
    return "claim-" + verdict.replace(" ", "-")


def evidence_markdown(row):
    """A MyST sentence linking a row to its evidence."""
    (kind, name), = row["evidence"].items()
    if kind == "glue":
        return f"Evidence: the executed result `{name}` of this chapter; tested in {{ref}}`{row['target']}`."
    return f"Evidence: {{ref}}`the derivation <{name}>`."


def prefix_verdict(parsed, verdict):
    """Put "Verdict: <verdict>." in bold at the start of the first paragraph of a parsed container
    (a paragraph is added when the container does not start with one)."""
    first = parsed.children[0] if parsed.children else nodes.paragraph()
    if not isinstance(first, nodes.paragraph):
        first = nodes.paragraph()
        parsed.insert(0, first)
    first.insert(0, nodes.Text(" "))
    first.insert(0, nodes.strong(text=f"Verdict: {verdict}.", classes=["claim-verdict"]))


class ClaimDirective(SphinxDirective):
    """```{claim} <id>``` : the box of one row of the claims file (config value claims_file)."""

    required_arguments = 1
    has_content = False

    def run(self):
        claim_id = self.arguments[0]
        path = self.config.claims_file
        self.env.note_dependency(path)
        rows = {row.get("id"): row for row in load_claims(path) if isinstance(row, dict)}
        row = rows.get(claim_id)
        if row is None or row_problems(row):
            reason = f"no row of {path} has this id" if row is None else "; ".join(row_problems(row))
            logger.warning(f"{{claim}} {claim_id}: {reason}", location=self.get_location(), type="claims")
            return []

        box = nodes.admonition(classes=["claim", verdict_class(row["verdict"])])
        box += nodes.title(text=f"Claim of article {row['article']}, section “{row['section']}”")
        quote = " ".join(str(row["quote"]).split())
        box += nodes.paragraph("", "", nodes.emphasis(text=f"“{quote}”"))

        parsed = nodes.container()
        markdown = f"{row['why']}\n\n{evidence_markdown(row)}"
        self.state.nested_parse(StringList(markdown.splitlines(), source=path),
                                self.content_offset, parsed)
        prefix_verdict(parsed, row["verdict"])
        box += parsed.children
        return [box]


def check_claims_file(app):
    """Warn (an error under -W) about every malformed row before any chapter is read."""
    for name, problem in file_problems(load_claims(app.config.claims_file)):
        logger.warning(f"{app.config.claims_file}, {name}: {problem}", type="claims")


def add_static_path(app, config):
    config.html_static_path.append(str(STATIC))


def setup(app):
    app.add_config_value("claims_file", str(CLAIMS_FILE), "env")
    app.add_directive("claim", ClaimDirective)
    app.connect("config-inited", add_static_path)
    app.connect("builder-inited", check_claims_file)
    app.add_css_file("claims.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
