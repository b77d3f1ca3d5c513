"""Checks that grade a student's re-implementation of the course functions.

Each ``check_<function>(fn, ...)`` runs the student's ``fn`` on seeded random
inputs and edge cases (N=1, T=1, D=1, H=1), and compares every output with the
reference implementation in this package. It also checks the shape of each
output, that ``fn`` did not modify its inputs, and that ``fn`` is not the
reference itself (nor calls it). When a backward function's value disagrees with
the reference, the numeric gradient is computed as a second opinion, and the
message says whether it agrees.

Values are graded, not dtypes: an output of any real dtype (float32, float64, ...)
is compared with the float64 reference in float64 and passes when its relative error
is below the tolerance, 1e-7 (see :mod:`~rnncourse.grading.core` for why).

A check returns ``None`` when everything is right and raises ``AssertionError``
with a message a student can act on otherwise: which function, which output,
which case (with the seed and sizes to reproduce it), how large the error is,
and a hint. The nbgrader test cells of the assignments call these checks.

Each chapter's checks are a module of this package that registers its reference
functions and exports ``CASES``, ``{check name: function making the cases}``:
:mod:`~rnncourse.grading.rnn_checks` (assignments 1 and 2),
:mod:`~rnncourse.grading.stability_checks` (3), :mod:`~rnncourse.grading.gated_checks` (4),
:mod:`~rnncourse.grading.variant_checks` (5), :mod:`~rnncourse.grading.application_checks` (6). This module gathers
them, so that notebooks write ``grading.check_<function>(...)``.
"""
from . import application_checks, gated_checks, rnn_checks, stability_checks, variant_checks
from .application_checks import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403 - the machinery, for tests and chapter modules
from .core import REFERENCE_FUNCTIONS, Case, Unreadable, call_student, output_error, run_cases  # noqa: F401
from .gated_checks import *  # noqa: F401,F403
from .rnn_checks import *  # noqa: F401,F403
from .stability_checks import *  # noqa: F401,F403
from .variant_checks import *  # noqa: F401,F403

# Every check of every chapter: {"check_<name>": function(**test cell arguments) -> cases}.
CASES = {**rnn_checks.CASES, **stability_checks.CASES, **gated_checks.CASES, **variant_checks.CASES,
         **application_checks.CASES}
