"""nbgrader configuration of the course directory (run nbgrader from this folder)."""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "rnncourse"
# The gradebook is a SQLite file here; for several graders point db_url at Postgres
# (see the instructor section of the README).
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Run every notebook with the course's Python kernel, whatever the notebook says.
c.Execute.kernel_name = "python3"
# A cell that runs longer than this is stopped and scores zero.
c.Execute.timeout = 120
# The released notebooks stay in the course directory's `release/` folder.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
