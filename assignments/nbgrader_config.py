"""nbgrader configuration of the course directory (run nbgrader from this folder)."""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "rnncourse"
# The gradebook is nbgrader's default, <course directory>/gradebook.db (SQLite); for several
# graders set c.CourseDirectory.db_url to a Postgres URL (see the README's instructor section).

# Run every notebook with the course's Python kernel, whatever the notebook says.
c.Execute.kernel_name = "python3"
# A cell that runs longer than this is stopped and scores zero.
c.Execute.timeout = 120
# What replaces a solution in the released notebook.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Cells a student deleted are put back (and score zero) instead of silently missing.
c.OverwriteCells.add_missing_cells = True
# Feedback shows the visible tests and the messages, never the hidden tests' code.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
