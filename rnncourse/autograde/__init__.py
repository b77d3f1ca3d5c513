"""The instructor's grader: sandboxed, parallel autograding of the course's nbgrader assignments.

``python -m rnncourse.autograde ASSIGNMENT`` (:mod:`.cli`) grades every submission. One
module per job, in the order a submission meets them:

- :mod:`.plan`: what the source notebook asks for (test cells → checks → cases; what
  set-up cells import from the package, as data);
- :mod:`.submission`: the student's code, matched by ``grade_id`` from the submitted notebook;
- :mod:`.grade`: one submission, start to end: run in the sandbox, judge outside it;
- :mod:`.sandbox`: bubblewrap, resource limits, size-capped writable folders;
- :mod:`.sandboxed`: the only code inside the sandbox (runner, wire protocol, the routine
  that calls a student's function, test functions): no reference implementation;
- :mod:`.batch`: every submission of an assignment, in parallel (Dask);
- :mod:`.nbgrader_glue`: recording the verdicts with nbgrader's own autograde steps;
- :mod:`.report`, :mod:`.similarity`: the instructor's report and copy detection.

Nothing is imported here, so that importing :mod:`.sandboxed` (as the notebook checks do)
stays light.
"""
