"""The runner: the program that runs the student's code *inside* the sandbox.

``python -m sandboxed.runner INPUTS_FOLDER EVENTS_FD`` (this folder is all of the grader
that the sandbox holds) runs the cells of ``INPUTS_FOLDER``, then calls the student's
functions on the probes' arguments, and writes an event for each to the file descriptor
``EVENTS_FD`` (formats: :mod:`.protocol`). Each call goes through :func:`.calling.call_student`,
the routine the notebook's checks use too.

Nothing here decides a grade, and no reference implementation is within reach: whatever
the student's code does to this process (patching numpy or this module, forging events)
cannot change the expected values, which the trusted grader computes outside; it can
only spoil what the student's own functions hand back.
"""
import os
import signal
import sys

from . import protocol
from .calling import StudentCallError, call_student

MAX_CAPTURED_OUTPUT = 100_000  # characters of print() output passed on; the rest is dropped


class _BoundedSink:
    """A text stream that passes on the first MAX_CAPTURED_OUTPUT characters and drops the rest."""

    def __init__(self, stream):
        self.stream, self.left = stream, MAX_CAPTURED_OUTPUT

    def write(self, text):
        if self.left > 0:
            self.stream.write(text[: self.left])
            self.left -= len(text)
        if self.left <= 0:
            self.write = len  # from now on a C call that drops the text: a print loop stays fast
        return len(text)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return False


class ProbeTimeout(BaseException):
    """Raised inside the student's code when a cell or a probe runs out of time."""


def _alarm(signum, frame):
    raise ProbeTimeout("time limit reached")


def run_cells(cells, namespace, cell_seconds, records, event):
    """Run each cell (``{"source", "names"}``) in ``namespace`` with IPython; one event per cell."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history database: nothing of ours to write to the student's /tmp
    shell = InteractiveShell.instance(user_ns=namespace, config=config)
    for index, cell in enumerate(cells):
        signal.alarm(cell_seconds)
        try:
            namespace.update(protocol.decode_names(cell.get("names", {}), records))
            result = shell.run_cell(cell["source"], store_history=False, silent=True)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # ProbeTimeout, SystemExit, KeyboardInterrupt from the student
            error = exc
        finally:
            signal.alarm(0)
        event(cell=index, status="error" if error else "ok", error=protocol.describe_error(error) if error else None)


def run_probe(function, name, make_arguments, timeout):
    """Call the student's ``function`` once; returns the event's fields (status, value or error)."""
    args, kwargs = make_arguments()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        value = call_student(function, name, args, kwargs)
    except ProbeTimeout:
        return {"status": "timeout", "error": f"did not return within {timeout:g} s"}
    except StudentCallError as error:  # the same message as in the notebook
        return {"status": "refused", "error": str(error)[:protocol.MAX_MESSAGE]}
    except BaseException as error:
        return {"status": "error", "error": protocol.describe_error(error)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        return {"status": "ok", "value": protocol.describe_result(value)}
    except BaseException as error:
        return {"status": "error", "error": "the returned value could not be sent back: " + protocol.describe_error(error)}


def main(inputs, events_fd):
    """Run everything in the folder ``inputs``; write the events to the descriptor ``events_fd``."""
    events = protocol.EventWriter(os.fdopen(events_fd, "w", buffering=1))
    signal.signal(signal.SIGALRM, _alarm)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us
    # Buffered whatever PYTHONUNBUFFERED says: a print loop must not cost a system call per line.
    sys.stdout, sys.stderr = (_BoundedSink(os.fdopen(fd, "w", buffering=1 << 16, closefd=False)) for fd in (1, 2))
    cells, probes, cell_seconds, records = protocol.read_inputs(inputs)
    namespace = {"__name__": "__main__"}
    run_cells(cells, namespace, cell_seconds, records, events.write)
    timed_out = set()  # a function that ran out of time once is not called again
    for index, (name, make_arguments, timeout) in enumerate(probes):
        function = namespace.get(name)
        if not callable(function):
            events.write(probe=index, status="missing", error=f"{name} is not defined")
        elif name in timed_out:
            events.write(probe=index, status="timeout", error="not called again after an earlier time-out")
        else:
            outcome = run_probe(function, name, make_arguments, timeout)
            if outcome["status"] == "timeout":
                timed_out.add(name)
            events.write(probe=index, **outcome)
    events.write(done=True)
    for stream in (sys.__stdout__, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
