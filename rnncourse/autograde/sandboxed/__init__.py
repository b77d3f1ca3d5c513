"""The part of the grader that runs inside the sandbox, and nothing else.

This folder is all of ``rnncourse`` that a sandboxed run can see (it is mounted there on
its own, as the package ``sandboxed``): the runner, the wire protocol, the routine that
calls a student's function, and the smooth test functions of the gradient checks. Its
modules import numpy and the standard library only, never ``rnncourse``, so no
reference implementation travels with them (a test checks this).
"""
