"""The untrusted half of sandboxed grading: runs *inside* the sandbox.

``python -m rnncourse.sandbox_runner WORKDIR`` reads from WORKDIR

- ``cells.json``: the code cells to run, in order (the student's cells and the
  notebook's locked set-up cells), as a list of strings;
- ``probes.pkl``: the calls to make afterwards, a list of
  ``(function_name, args, kwargs, timeout_seconds)`` written by the trusted grader;

and writes

- ``events.jsonl``: one JSON object per line, for every cell and every probe;
- ``probe_<i>.npz``: the arrays that probe ``i`` returned (no pickles).

Nothing here decides a grade. Whatever the student's code does to this process
(patching numpy, this module, builtins, forging the output files) cannot change
the expected values, which are computed by the trusted grader outside the sandbox;
it can only spoil the data the student's own functions hand back.
"""
import importlib
import json
import os
import pickle
import signal
import sys

MAX_MESSAGE = 2000  # characters of an error message kept per event
MAX_CAPTURED_OUTPUT = 100_000  # characters of print() output kept; the rest is dropped


class _BoundedSink:
    """A text stream that keeps the first MAX_CAPTURED_OUTPUT characters and drops the rest."""

    def __init__(self, stream):
        self.stream, self.left = stream, MAX_CAPTURED_OUTPUT

    def write(self, text):
        if self.left > 0:
            self.stream.write(text[: self.left])
            self.left -= len(text)
        return len(text)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return False


class ProbeTimeout(BaseException):
    """Raised inside the student's code when a cell or a probe runs out of time."""


def _alarm(signum, frame):
    raise ProbeTimeout("time limit reached")


def _describe(error):
    return f"{type(error).__name__}: {error}"[:MAX_MESSAGE]


def _encode(value, arrays, prefix):
    """A JSON description of a returned value; its arrays go into ``arrays``."""
    import numpy as np

    if value is None:
        return {"kind": "none"}
    if isinstance(value, (tuple, list)):
        items = [_encode_leaf(v, arrays, f"{prefix}_{i}") for i, v in enumerate(value)]
        # A list of numbers may also be meant as one array (np.asarray accepts it).
        whole = _encode_leaf(np.asarray(value) if _is_numeric(value) else None, arrays, prefix)
        return {"kind": "sequence", "items": items, "whole": whole}
    return _encode_leaf(value, arrays, prefix)


def _is_numeric(value):
    import numpy as np

    try:
        return np.asarray(value).dtype.kind in "biufc"
    except Exception:
        return False


def _encode_leaf(value, arrays, key):
    import numpy as np

    if value is None:
        return {"kind": "none"}
    try:
        array = np.asarray(value)
    except Exception:
        return {"kind": "object", "type": type(value).__name__}
    if array.dtype.kind not in "biufc" or isinstance(value, (tuple, list)):
        return {"kind": "object", "type": type(value).__name__}
    arrays[key] = array
    return {"kind": "array", "key": key}


def main(workdir):
    import numpy as np

    from rnncourse.grading.core import arrays_in

    # Kept before any student code runs, so that patching sys or numpy later changes nothing here.
    set_profile, array_equal, savez = sys.setprofile, np.array_equal, np.savez
    dump, write_event_stream = json.dumps, open(os.path.join(workdir, "events.jsonl"), "w", buffering=1)
    signal.signal(signal.SIGALRM, _alarm)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us
    sys.stdout, sys.stderr = _BoundedSink(sys.stdout), _BoundedSink(sys.stderr)

    def event(**fields):
        write_event_stream.write(dump(fields) + "\n")

    with open(os.path.join(workdir, "cells.json")) as handle:
        cells = json.load(handle)
    with open(os.path.join(workdir, "probes.pkl"), "rb") as handle:
        probes, cell_timeout, forbidden = pickle.load(handle)

    namespace = {"__name__": "__main__"}
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(user_ns=namespace)
    for index, source in enumerate(cells):
        signal.alarm(cell_timeout)
        try:
            result = shell.run_cell(source, store_history=False, silent=True)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # ProbeTimeout, SystemExit, KeyboardInterrupt from the student
            error = exc
        finally:
            signal.alarm(0)
        event(cell=index, status="error" if error else "ok", error=_describe(error) if error else None)

    forbidden_codes = set()
    for module_name, function_name in forbidden:
        try:
            function = getattr(importlib.import_module(module_name), function_name, None)
        except BaseException:
            continue
        if hasattr(function, "__code__"):
            forbidden_codes.add(function.__code__)

    timed_out = set()  # a function that ran out of time once is not called again
    for index, (function_name, args, kwargs, timeout) in enumerate(probes):
        function = namespace.get(function_name)
        if not callable(function):
            event(probe=index, status="missing", error=f"{function_name} is not defined")
            continue
        if function_name in timed_out:
            event(probe=index, status="timeout", error="not called again after an earlier time-out")
            continue
        before = [a.copy() for a in arrays_in(args) + arrays_in(tuple(kwargs.values()))]
        called = []

        def profiler(frame, what, arg):
            if what == "call" and frame.f_code in forbidden_codes:
                called.append(frame.f_code.co_name)

        signal.setitimer(signal.ITIMER_REAL, timeout)
        set_profile(profiler)
        try:
            with np.errstate(all="ignore"):
                value = function(*args, **kwargs)
            error = None
        except BaseException as exc:
            error = exc
        finally:
            set_profile(None)
            signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(error, ProbeTimeout):
            timed_out.add(function_name)
        if error is not None:
            event(probe=index, status="timeout" if isinstance(error, ProbeTimeout) else "error",
                  error=_describe(error))
            continue
        after = arrays_in(args) + arrays_in(tuple(kwargs.values()))
        mutated = any(not array_equal(a, b, equal_nan=True) for a, b in zip(after, before))
        arrays = {}
        try:
            description = _encode(value, arrays, f"p{index}")
            savez(os.path.join(workdir, f"probe_{index}.npz"), **arrays)
        except BaseException as exc:
            event(probe=index, status="error", error="the returned value could not be saved: " + _describe(exc))
            continue
        event(probe=index, status="ok", value=description, mutated=mutated, called_reference=sorted(set(called)))
    event(done=True)


if __name__ == "__main__":
    main(sys.argv[1])
