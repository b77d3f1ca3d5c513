"""The instructor's report of an autograded assignment: which tests failed how often,
which submissions could not be graded normally, and which look copied."""
import csv
from pathlib import Path


def failure_table(results):
    """One row per test cell: how many submissions failed it.

    results: ``{student: grade_submission() result}``. Returns a list of dicts
    ``{"grade_id", "points", "failed", "graded", "share_failed", "example"}`` in notebook order;
    ``example`` is one failure message (the first student's, by id).
    """
    rows = {}
    for student in sorted(results):
        for grade_id, cell in results[student]["cells"].items():
            row = rows.setdefault(grade_id, {"grade_id": grade_id, "points": cell["points"], "failed": 0,
                                             "graded": 0, "example": ""})
            row["graded"] += 1
            if not cell["passed"]:
                row["failed"] += 1
                row["example"] = row["example"] or (cell.get("detail") or cell["message"]).splitlines()[0]
    for row in rows.values():
        row["share_failed"] = round(row["failed"] / row["graded"], 3) if row["graded"] else 0.0
    return list(rows.values())


def _write_csv(path, rows, fields):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _plot(path, table, assignment):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.2))
    names = [row["grade_id"] for row in table]
    ax.barh(names, [100 * row["share_failed"] for row in table], color="#c0392b")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions that failed the test cell (%)")
    ax.set_title(f"{assignment}: which tests fail most often")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(folder, assignment, results, failures, copies, seconds):
    """Write ``report.md``, ``failures.csv``, ``failures.png``, ``copies.csv`` and ``submissions.csv``.

    results: ``{student: result}``; failures: ``{student: reason}`` for submissions that
    could not be graded normally; copies: :func:`rnncourse.autograde.similarity.find_copies` flags;
    seconds: wall time of the whole run. Returns the folder's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = failure_table(results)
    _write_csv(folder / "failures.csv", table, ["grade_id", "points", "failed", "graded", "share_failed", "example"])
    _write_csv(folder / "copies.csv", [{**c, "shared_lines": " | ".join(c["shared_lines"])} for c in copies],
               ["student", "grade_id", "other", "similarity", "shared_lines"])
    submissions = [{"student": s, "points": sum(c["points"] for c in r["cells"].values() if c["passed"]),
                    "max_points": sum(c["points"] for c in r["cells"].values()), "seconds": r["seconds"],
                    "problems": "; ".join(r["problems"])} for s, r in sorted(results.items())]
    _write_csv(folder / "submissions.csv", submissions, ["student", "points", "max_points", "seconds", "problems"])
    if table:
        _plot(folder / "failures.png", table, assignment)
    lines = [f"# Autograding report: {assignment}", "",
             f"{len(results)} submissions graded in {seconds:.1f} s; "
             f"{len(failures)} could not be graded normally.", "",
             "## Test cells, most often failed first", "",
             "| test cell | points | failed | share | example message |", "|---|---|---|---|---|"]
    for row in sorted(table, key=lambda r: -r["failed"]):
        example = row["example"].replace("|", "\\|")[:160]
        lines.append(f"| {row['grade_id']} | {row['points']} | {row['failed']}/{row['graded']} | "
                     f"{100 * row['share_failed']:.0f} % | {example} |")
    lines += ["", "![Share of submissions failing each test cell](failures.png)", "",
              "## Submissions with problems", ""]
    lines += [f"- **{student}**: {reason}" for student, reason in sorted(failures.items())] or ["None."]
    lines += ["", "## Possible copies (for review; grades are not changed)", ""]
    for copy in copies:
        lines.append(f"- {copy['student']} / {copy['grade_id']} ~ {copy['other']}: "
                     f"{100 * copy['similarity']:.0f} % of the code shared, template code left out. Shared lines:")
        lines += [f"  - `{line}`" for line in copy["shared_lines"][:12]]
    if not copies:
        lines.append("None above the threshold.")
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    return folder
