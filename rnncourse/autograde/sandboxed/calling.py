"""Calling a student's function: the one routine used by the notebook checks
(:func:`rnncourse.grading.core.call_student`) and by the sandboxed runner.

A leaf module: it imports numpy and the standard library only, never ``rnncourse``, so
that it can be copied into the sandbox. Both sides therefore give a student the same
messages for the same mistake.
"""
import sys
import warnings

import numpy as np

# Bound at import, before any student code runs: patching ``np.array_equal`` later changes nothing here.
_array_equal = np.array_equal
_errstate = np.errstate


class StudentCallError(AssertionError):
    """The call broke a rule of the checks (it called the reference, or wrote into an input).

    An ``AssertionError``, as every failed check is; its own class, so that the runner can
    tell it from an ``AssertionError`` that the student's code raised itself.
    """


def arrays_in(value):
    """The numpy arrays inside an argument: an array, or a tuple (a cache) or list of them.

    value: any argument of a student's function. Returns a list of ndarrays (may be empty).
    """
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [array for item in value for array in arrays_in(item)]
    return []


def calls_reference_message(name, reference):
    """What a student reads when ``name`` called the reference function ``reference``."""
    return (f"{name} calls the reference implementation {reference}. Write the computation "
            "yourself with numpy; calling the package's version does not earn the point.")


def mutation_message(name):
    """What a student reads when ``name`` wrote into one of its input arrays."""
    return (f"{name} modified one of its input arrays in place. Compute new arrays instead "
            "(write `a = a + b`, not `a += b`; copy before assigning into an input).")


def call_student(fn, name, args, kwargs, reference_code=None):
    """Call ``fn(*args, **kwargs)`` as a check does and return what it returns.

    Args:
        fn: the student's function
        name: its name, as the messages show it
        args: tuple of positional arguments; kwargs: dict of keyword arguments
        reference_code: ``{code object: "module.function"}`` of functions the student must
            not call (watched with a profiler), or None to watch nothing

    Raises :class:`StudentCallError` (an ``AssertionError``) when ``fn`` calls one of ``reference_code`` or writes into
    any of its array arguments; whatever ``fn`` raises passes through. Floating-point
    warnings are silenced: the values are what gets graded.
    """
    arrays = [array for value in (*args, *kwargs.values()) for array in arrays_in(value)]
    before = [array.copy() for array in arrays]
    called = []

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in reference_code:
            called.append(reference_code[frame.f_code])

    previous = sys.getprofile()
    if reference_code:
        sys.setprofile(profiler)
    try:
        with _errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    finally:
        if reference_code:
            sys.setprofile(previous)
    if called:
        raise StudentCallError(calls_reference_message(name, called[0]))
    for array, copy in zip(arrays, before):
        if not _array_equal(array, copy, equal_nan=True):
            raise StudentCallError(mutation_message(name))
    return result
