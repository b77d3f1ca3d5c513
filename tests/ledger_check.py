"""Checks of a built claims-ledger page (book/appendix_claims_ledger.md rendered by the
{claims-ledger} directive of book/_ext/ledger.py), used by tests/test_claims_ledger.py on a small
Sphinx project and by tests/test_book.py on the full book it builds; kept apart so that both import
it without importing each other."""
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from claims import VERDICTS  # noqa: E402  (book/_ext/claims.py)

LEDGER_PAGE = "book/appendix_claims_ledger.html"


def element_ids(html_file):
    """The set of id attributes of a built HTML page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(Path(html_file).read_text(encoding="utf8"), "html.parser")
    return {tag["id"] for tag in soup.find_all(id=True)}


def summary_numbers(soup, table_id):
    """{first cell's text: [the other cells' numbers]} of a summary table of a built ledger page."""
    table = soup.find("table", id=table_id)
    if table is None:
        return None
    return {cells[0].get_text(" ", strip=True): [int(c.get_text(strip=True)) for c in cells[1:]]
            for cells in (tr.find_all("td") for tr in table.find("tbody").find_all("tr"))}


def ledger_page_problems(html, rows, page=LEDGER_PAGE):
    """What is wrong with a built ledger page, as a list of sentences (empty when nothing is).

    ``html``: the build's html folder; ``rows``: the claims file's rows. Every row has a box
    (an element whose id is the row's id) with its verdict class; every internal link in the box
    resolves to an existing page and, with a fragment, to an element with that id there; the
    box of a row with glued evidence holds the pasted value; the summary's tables by verdict, by
    article and by kind give each group's number of rows, and their 'all rows' line the total."""
    from bs4 import BeautifulSoup

    path = Path(html) / page
    if not path.exists():
        return [f"no ledger page {path}"]
    soup = BeautifulSoup(path.read_text(encoding="utf8"), "html.parser")
    problems, ids = [], {}
    for row in rows:
        box = soup.find(id=row["id"])
        if box is None:
            problems.append(f"{row['id']}: no box on the page")
            continue
        verdict_class = "claim-" + row["verdict"].replace(" ", "-")
        if verdict_class not in box.get("class", []):
            problems.append(f"{row['id']}: the box lacks the class {verdict_class}")
        links = [a["href"] for a in box.find_all("a", href=True) if "reference internal" in " ".join(a.get("class", []))]
        if not links:
            problems.append(f"{row['id']}: the box has no link to the book")
        for href in links:
            parts = urlsplit(href)
            target = (path.parent / parts.path).resolve() if parts.path else path
            if not target.exists():
                problems.append(f"{row['id']}: link {href} to a page that does not exist")
                continue
            if target not in ids:
                ids[target] = element_ids(target)
            if parts.fragment and parts.fragment not in ids[target]:
                problems.append(f"{row['id']}: link {href}: no id '{parts.fragment}' in {target.name}")
        chapter_link = f"{row['chapter']}.html#{row['target']}"
        if not any(href.endswith(chapter_link) for href in links):
            problems.append(f"{row['id']}: no link to its target {chapter_link}")
        if "glue" in row["evidence"]:
            where = box.find("p", class_="claims-ledger-where")
            if where is None or not where.find(class_="pasted-text"):
                problems.append(f"{row['id']}: the glued evidence {row['evidence']['glue']} is not pasted")
    for field, label in (("verdict", str), ("article", "article {}".format), ("kind", str)):
        numbers = summary_numbers(soup, f"ledger-by-{field}")
        if numbers is None:
            problems.append(f"no summary table by {field} (id ledger-by-{field})")
            continue
        found = {name: counts[0] for name, counts in numbers.items()}
        expected = {label(value): sum(row[field] == value for row in rows) for value in {row[field] for row in rows}}
        expected["all rows"] = len(rows)
        if any(found.get(name) != count for name, count in expected.items()) or sum(found.values()) != 2 * len(rows):
            problems.append(f"summary by {field} {found} does not match the file's {expected}")
    return problems
