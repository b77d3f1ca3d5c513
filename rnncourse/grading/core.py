"""The machinery of the checks: calling a student's function safely, cases and judges,
comparing outputs, and messages. The checks themselves live in the chapter modules
(:mod:`rnncourse.grading.rnn_checks`, ...); :mod:`rnncourse.grading` gathers them.

**Dtype policy: values are graded, not dtypes.** An output of any real numeric dtype
(float32, float64, even an integer array) is converted to float64 and passes when its
relative error against the float64 reference is below the tolerance (``TOLERANCE``,
1e-7). Why: the assignments ask for the right numbers, and a correct implementation that
keeps a buffer in float32 (or returns a Python float) is correct; a dtype rule would take
points from right answers while the tolerance already decides whether the precision is
enough. Arithmetic done in float32 throughout (machine epsilon 1.2e-7) misses 1e-7 once a
few roundings add up (a float32 ``rnn_step_forward`` is off by about 6e-7), and then the
message says that the dtype is too coarse. Complex, object and string arrays fail ("return real numbers").

**Messages claim only what was measured.** :func:`output_error` returns a :class:`Problem`,
a message that also knows its kind (``"missing"``, ``"type"``, ``"shape"``, ``"dtype"``,
``"nonfinite"`` or ``"value"``). Hints about the formula go with ``"value"`` failures only;
:func:`numeric_second_opinion` reports what the numeric gradient said, agreeing or not.
"""
from typing import Callable, NamedTuple, Optional

import numpy as np

from .. import gradcheck
from ..autograde.sandboxed import calling
from ..autograde.sandboxed.calling import arrays_in  # noqa: F401 - part of this module's API

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


def call_student(fn, name, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` as a check does and return what it returns.

    Raises ``AssertionError`` if ``fn`` is or calls a reference function of this
    package, or writes into any of its array arguments. Floating-point warnings
    are silenced: the values are what gets graded. The call itself is
    :func:`rnncourse.autograde.sandboxed.calling.call_student`, the routine the
    sandboxed grader uses too, so both give the same messages.
    """
    _refuse_reference(fn, name)
    return calling.call_student(fn, name, args, kwargs, _REFERENCE_CODE)


def _unpack(result, name, output_names):
    if len(output_names) == 1:
        return [result]
    if not isinstance(result, (tuple, list)) or len(result) != len(output_names):
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else repr(type(result).__name__)
        raise AssertionError(
            f"{name} must return {len(output_names)} values ({', '.join(output_names)}), got {got}."
        )
    return list(result)


class Problem(str):
    """A failure message (a ``str``) that also knows what kind of failure it is.

    kind: ``"missing"`` (None), ``"type"`` (not an array), ``"shape"``, ``"dtype"`` (not real
    numbers), ``"nonfinite"`` (NaN or inf) or ``"value"`` (relative error above the tolerance).
    """

    def __new__(cls, message, kind="value"):
        problem = super().__new__(cls, message)
        problem.kind = kind
        return problem

    def plus(self, text):
        """The same kind of problem with ``text`` added to the message."""
        return Problem(str(self) + text, self.kind)


def problem_kind(problem):
    """The kind of a problem; a plain message counts as a wrong value."""
    return getattr(problem, "kind", "value")


def output_error(name, case, output_name, got, expected, tolerance=TOLERANCE):
    """Describe what is wrong with one output as a :class:`Problem`, or return None when it is right.

    ``got`` is the student's value, ``expected`` the reference's array. Any real numeric
    dtype is accepted: the values are compared in float64, and the relative error must stay
    below ``tolerance`` (see the dtype policy in this module's docstring).
    """
    where = f"{name}, case {case}: output {output_name}"
    if got is None:
        return Problem(f"{where} is None. Did you forget a `return`?", "missing")
    if isinstance(got, Unreadable):
        return Problem(f"{where} is a {got.type_name}, not an array.", "type")
    try:
        got = np.asarray(got)
    except Exception:
        return Problem(f"{where} is a {type(got).__name__}, not an array.", "type")
    if got.shape != expected.shape:
        return Problem(f"{where} has shape {got.shape}, expected {expected.shape}.", "shape")
    if got.dtype.kind not in "fiub":
        return Problem(f"{where} has dtype {got.dtype}: return real numbers (a float array).", "dtype")
    if not np.all(np.isfinite(got)):
        return Problem(f"{where} contains NaN or inf.", "nonfinite")
    error = gradcheck.rel_error(got, expected)
    if error > tolerance:
        message = f"{where} is wrong: relative error {error:.1e} (must be below {tolerance:.0e})."
        if got.dtype.kind == "f" and np.finfo(got.dtype).eps > tolerance / 10:
            message += (f" It has dtype {got.dtype}, whose precision (machine epsilon "
                        f"{np.finfo(got.dtype).eps:.1e}) is too coarse for this tolerance: compute in float64.")
        return Problem(message, "value")
    return None


def _fail_if_any(problems, hints, extra_hint=None):
    """Raise one AssertionError listing every (output name, problem) in ``problems``.

    ``hints[output]`` is added for a wrong value of that output, ``hints[(output, kind)]``
    for a problem of another kind; ``extra_hint`` when several values are wrong at once.
    """
    if not problems:
        return
    lines = [str(problem) for _, problem in problems]
    for output, problem in problems:
        kind = problem_kind(problem)
        hint = hints.get(output) if kind == "value" else hints.get((output, kind))
        if hint:
            lines.append(f"Hint ({output}): {hint}")
    if extra_hint and sum(problem_kind(p) == "value" for _, p in problems) > 1:
        lines.append("Hint: " + extra_hint)
    raise AssertionError("\n".join(lines))


# Centred differences (h = 1e-5) of the smooth functions the checks use agree with the exact
# gradient to about 1e-8; a student's gradient this close to them is nearly right.
NUMERIC_AGREEMENT = 1e-6


def numeric_second_opinion(problems, gradients, inputs, forward, upstream):
    """Add to each wrong gradient value what the numeric gradient says about it.

    problems: (output name, problem) pairs; the gradient ``"dWx"`` is the one with respect
    to ``inputs["Wx"]``, of ``sum(forward(**inputs) * upstream)``. Only problems of kind
    ``"value"`` get a numeric gradient (a missing, shape or dtype problem needs none), and
    the message says whether it agrees with the student's value, with the measured error.
    """
    with_numeric = []
    for output, problem in problems:
        if problem_kind(problem) == "value":
            name = output[1:]  # "dWx" -> "Wx", "dh_prev" -> "h_prev", "dbh" -> "bh"

            def f(value, name=name):
                return forward(**{**inputs, name: value})

            numeric = gradcheck.numerical_gradient_array(f, inputs[name], upstream)
            error = gradcheck.rel_error(np.asarray(gradients[output], dtype=np.float64), numeric)
            if error > NUMERIC_AGREEMENT:
                problem = problem.plus(f" The numeric gradient disagrees with it too: relative error {error:.1e}.")
            else:
                problem = problem.plus(
                    f" The numeric gradient is close to it (relative error {error:.1e}; it is accurate to "
                    f"about 1e-8 here), so your gradient is nearly right but not within {TOLERANCE:.0e} "
                    "of the exact one.")
        with_numeric.append((output, problem))
    return with_numeric


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
    raises: bool = False  # True for a case whose right answer is an exception: the judge gets a Raised


class Raised(NamedTuple):
    """What a student's function raised, handed to the judge of a case with ``raises=True``
    (in the notebook from the exception, in the sandboxed grader from its ``"Type: message"``)."""

    type_name: str  # e.g. "ValueError"
    message: str


def raised_from_text(text):
    """The :class:`Raised` of an error described as ``"Type: message"`` (the sandbox's wording)."""
    type_name, _, message = str(text).partition(": ")
    return Raised(type_name, message)


def run_cases(fn, cases):
    """Call ``fn`` on every case (as :func:`call_student` does) and judge each result.

    What ``fn`` raises passes through, except in a case with ``raises=True``: there the
    exception (other than a broken rule of the checks) goes to the judge as a :class:`Raised`.
    """
    for case in cases:
        if not case.raises:
            case.judge(case, call_student(fn, case.function, *case.args, **case.kwargs))
            continue
        try:
            result = call_student(fn, case.function, *case.args, **case.kwargs)
        except calling.StudentCallError:
            raise
        except Exception as error:
            result = Raised(type(error).__name__, str(error))
        case.judge(case, result)


class Unreadable(NamedTuple):
    """Stands for a returned value that is not an array (as the sandbox reports it)."""

    type_name: str


