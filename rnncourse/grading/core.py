"""The machinery of the checks: calling a student's function safely, cases and judges,
comparing outputs, and messages. The checks themselves live in the chapter modules
(:mod:`rnncourse.grading.rnn_checks`, ...); :mod:`rnncourse.grading` gathers them.
"""
import sys
import warnings
from typing import Callable, NamedTuple, Optional

import numpy as np

from .. import gradcheck

TOLERANCE = 1e-7  # largest relative error accepted against the float64 reference

# Every reference function a student re-implements (each chapter's checks register
# theirs): calling one of them from a submission does not earn the point.
REFERENCE_FUNCTIONS = []
_REFERENCE_CODE = {}


def register_references(*functions):
    """Add reference functions that students must not call (or be)."""
    for function in functions:
        if function not in REFERENCE_FUNCTIONS:
            REFERENCE_FUNCTIONS.append(function)
            _REFERENCE_CODE[function.__code__] = f"{function.__module__}.{function.__name__}"

# ----------------------------------------------------------------------------
# Calling the student's function
# ----------------------------------------------------------------------------

def _refuse_reference(fn, name):
    code = getattr(fn, "__code__", None)
    if code in _REFERENCE_CODE or (getattr(fn, "__module__", None) or "").startswith("rnncourse"):
        raise AssertionError(
            f"{name}: this is the reference implementation from the rnncourse package. "
            "The assignment asks you to write the function yourself, in the notebook."
        )


def arrays_in(value):
    """The numpy arrays inside an argument (an array, or a tuple such as a cache)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, tuple):
        return [a for item in value for a in arrays_in(item)]
    return []


def call_student(fn, name, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` as a check does and return what it returns.

    Raises ``AssertionError`` if ``fn`` is or calls a reference function of this
    package, or writes into any of its array arguments. Floating-point warnings
    are silenced: the values are what gets graded.
    """
    _refuse_reference(fn, name)
    arrays = [a for value in (*args, *kwargs.values()) for a in arrays_in(value)]
    before = [a.copy() for a in arrays]
    called = []

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in _REFERENCE_CODE:
            called.append(_REFERENCE_CODE[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    if called:
        raise AssertionError(
            f"{name} calls the reference implementation {called[0]}. Write the computation "
            "yourself with numpy; calling the package's version does not earn the point."
        )
    for array, copy in zip(arrays, before):
        if not np.array_equal(array, copy, equal_nan=True):
            raise AssertionError(
                f"{name} modified one of its input arrays in place. Compute new arrays instead "
                "(write `a = a + b`, not `a += b`; copy before assigning into an input)."
            )
    return result


def _unpack(result, name, output_names):
    if len(output_names) == 1:
        return [result]
    if not isinstance(result, (tuple, list)) or len(result) != len(output_names):
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else repr(type(result).__name__)
        raise AssertionError(
            f"{name} must return {len(output_names)} values ({', '.join(output_names)}), got {got}."
        )
    return list(result)


def output_error(name, case, output_name, got, expected, tolerance=TOLERANCE):
    """Describe what is wrong with one output, or return None when it is right.

    ``got`` is the student's value, ``expected`` the reference's array; the
    relative error must stay below ``tolerance``.
    """
    where = f"{name}, case {case}: output {output_name}"
    if got is None:
        return f"{where} is None. Did you forget a `return`?"
    if isinstance(got, Unreadable):
        return f"{where} is a {got.type_name}, not an array."
    try:
        got = np.asarray(got)
    except Exception:
        return f"{where} is a {type(got).__name__}, not an array."
    if got.shape != expected.shape:
        return f"{where} has shape {got.shape}, expected {expected.shape}."
    if got.dtype != expected.dtype:
        return f"{where} has dtype {got.dtype}, expected {expected.dtype}. Compute in {expected.dtype}; do not cast."
    if not np.all(np.isfinite(got)):
        return f"{where} contains NaN or inf."
    error = gradcheck.rel_error(got, expected)
    if error > tolerance:
        return f"{where} is wrong: relative error {error:.1e} (must be below {tolerance:.0e})."
    return None


def _fail_if_any(problems, hints, extra_hint=None):
    """Raise one AssertionError listing every (output name, message) in ``problems``."""
    if not problems:
        return
    lines = [message for _, message in problems]
    lines += [f"Hint ({output}): {hints[output]}" for output, _ in problems if output in hints]
    if extra_hint and len(problems) > 1:
        lines.append("Hint: " + extra_hint)
    raise AssertionError("\n".join(lines))


# ----------------------------------------------------------------------------
# Cases and judges
#
# A check is a list of cases. A case says which student function to call with
# which arguments, and holds the judge that decides whether what came back is
# right (it raises AssertionError with the message otherwise). The notebooks'
# test cells run cases in the student's kernel (``check_*``); the sandboxed
# autograder (:mod:`rnncourse.autograde`) calls the student's function inside the
# sandbox and runs the same judges outside it, where the student's code cannot
# reach them.
# ----------------------------------------------------------------------------

class Case(NamedTuple):
    """One call of a student's function and the judge of its result."""

    function: str  # name of the student's function, e.g. "rnn_step_forward"
    label: str  # the case as a student reads it: seed and sizes
    args: tuple
    kwargs: dict
    judge: Callable  # judge(case, returned value) -> None, or raises AssertionError
    context: Optional[dict] = None  # what the judge needs besides the arguments (never sent to the student)


def run_cases(fn, cases):
    """Call ``fn`` on every case (as :func:`call_student` does) and judge each result."""
    for case in cases:
        case.judge(case, call_student(fn, case.function, *case.args, **case.kwargs))


class Unreadable(NamedTuple):
    """Stands for a returned value that is not an array (as the sandbox reports it)."""

    type_name: str


