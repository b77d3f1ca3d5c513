"""The student's code, taken from a submitted notebook.

Only the solution cells (matched by ``grade_id``, the first of duplicates) and the cells
the student added are taken. Test cells, locked cells and metadata of the submission are
ignored, so edited, deleted, duplicated or reordered cells change nothing.
"""
import nbformat

from .plan import nbgrader_metadata


def read_submission(raw):
    """Parse a submitted notebook (bytes or str). Returns ``(notebook or None, problem or None)``."""
    try:
        notebook = nbformat.reads(raw.decode("utf8", "replace") if isinstance(raw, bytes) else raw, as_version=4)
    except Exception as error:  # invalid JSON, not a notebook, unknown format
        return None, f"the notebook cannot be read ({type(error).__name__}: {str(error)[:200]})"
    return notebook, None


def released_version(source):
    """A solution cell as the released notebook has it: each solution region replaced by a stub."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def match_cells(notebook, solution_ids, known_ids, kinds=("code",)):
    """The student's answers and added cells, as the notebook has them.

    Args:
        notebook: the submitted NotebookNode (or None)
        solution_ids: grade_ids of the solution cells; known_ids: grade_ids of every cell
            of the assignment; kinds: cell types to take

    Returns:
        ``(answers, added)``: ``answers`` maps a solution grade_id to the source of the first
        cell with that id; ``added`` maps a solution grade_id (or None, for the top of the
        notebook) to the cells added after it, a list of cells. A copy of a solution cell
        counts as added: it runs where it stands, as in the notebook.
    """
    answers, added, current = {}, {}, None
    for cell in notebook.cells if notebook is not None else []:
        if cell.get("cell_type") not in kinds:
            continue
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id in solution_ids and grade_id not in answers and cell.get("cell_type") == "code":
            answers[grade_id] = cell.get("source", "")
            current = grade_id
        elif grade_id not in known_ids or grade_id in answers:
            added.setdefault(current, []).append(cell)
    return answers, added


def student_cells(plan, notebook):
    """The code to run, in run order, with notes on what was missing.

    Returns ``(cells, answers, notes)``: ``cells`` is a list of ``{"kind", "source",
    "names"}`` (kind "setup" for the plan's set-up cells, which come with the names they
    import from the package, "student" otherwise): the set-up cells and, for each solution
    cell, the student's version followed by the code cells the student added after it;
    ``answers`` maps each solution grade_id the student answered to their code; ``notes``
    are lines for the instructor.
    """
    solution_ids = {e["grade_id"] for e in plan if e["kind"] == "solution"}
    answers, added = match_cells(notebook, solution_ids, {e["grade_id"] for e in plan})

    def student(cells):
        return [{"kind": "student", "source": cell.get("source", ""), "names": {}} for cell in cells]

    cells, notes = student(added.get(None, [])), []
    for entry in plan:
        if entry["kind"] == "setup":
            cells.append({"kind": "setup", "source": entry["code"], "names": entry["names"]})
        elif entry["kind"] == "solution":
            if entry["grade_id"] in answers:
                cells.append({"kind": "student", "source": answers[entry["grade_id"]], "names": {}})
            else:  # restored as released: the student's function raises NotImplementedError
                cells.append({"kind": "student", "source": released_version(entry["source"]), "names": {}})
                if notebook is not None:
                    notes.append(f"solution cell {entry['grade_id']!r} is missing from the submission")
            cells.extend(student(added.get(entry["grade_id"], [])))
    return cells, answers, notes
