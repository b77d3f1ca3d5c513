"""The wire format between the trusted grader and the sandboxed runner.

This module owns every name and encoding that crosses the sandbox wall, in both
directions; nothing else spells them out.

Into the sandbox, as files in a read-only folder the trusted side writes
(:func:`write_inputs`, read back by :func:`read_inputs`):

- ``cells.json`` (``CELLS``): the code cells to run, in order. Each is
  ``{"source": code, "names": {name: spec}}``; ``names`` are what a set-up cell imports from
  the course package, sent as data (see :func:`decode_names`), since the package itself
  is not in the sandbox;
- ``probes.json`` (``PROBES``) and ``probes.npz`` (``PROBE_ARRAYS``): the calls to make
  afterwards (function name, arguments, time limit), arguments described by
  :func:`encode_value`, their arrays in the ``.npz`` file (no pickles).

Out of the sandbox, one stream (a pipe, not a file: a submission that fills its disk
cannot crowd it out), written by :class:`EventWriter` and read by :func:`read_events`:
one JSON object per line, for every cell (``{"cell": i, "status", "error"}``), every
probe (``{"probe": i, "status", "value" | "error"}``, returned arrays inline as ``.npy``
bytes in base64) and the end (``{"done": true}``).

A leaf module: numpy and the standard library only, never ``rnncourse``.
"""
import base64
import collections
import io
import json
import os

import numpy as np

from .smooth_functions import SmoothFunction

CELLS = "cells.json"
PROBES = "probes.json"
PROBE_ARRAYS = "probes.npz"
MAX_MESSAGE = 2000  # characters of an error message kept per event


# ----------------------------------------------------------------------------
# Values into the sandbox: the arguments of the probes
# ----------------------------------------------------------------------------

def encode_value(value, arrays):
    """A JSON description of an argument; its arrays are added to ``arrays`` (dict key -> ndarray).

    Sends arrays, None, numbers, strings, tuples, lists, str-keyed dicts, NamedTuples (a
    cache record: its type name and fields), ``np.random.Generator`` (its state) and
    :class:`~rnncourse.autograde.sandboxed.smooth_functions.SmoothFunction`. Anything else raises ``TypeError``: it cannot be rebuilt inside.
    """
    if value is None:
        return {"kind": "none"}
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"kind": "array", "key": key}
    if isinstance(value, (bool, int, float, str, np.generic)):
        return {"kind": "literal", "value": value.item() if isinstance(value, np.generic) else value}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"kind": "record", "type": type(value).__name__, "fields": list(value._fields),
                "items": [encode_value(item, arrays) for item in value]}
    if isinstance(value, (tuple, list)):
        return {"kind": type(value).__name__, "items": [encode_value(item, arrays) for item in value]}
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"kind": "dict", "items": {key: encode_value(item, arrays) for key, item in value.items()}}
    if isinstance(value, np.random.Generator):
        return {"kind": "generator", "state": value.bit_generator.state}
    if isinstance(value, SmoothFunction):
        return {"kind": "smooth_function", "function": value.kind, "A": encode_value(value.A, arrays)}
    raise TypeError(f"a {type(value).__name__} cannot be sent into the sandbox")


def record_type(records, name, fields):
    """The NamedTuple class ``name`` with ``fields``, made once per run (kept in ``records``)."""
    key = (name, tuple(fields))
    if key not in records:
        records[key] = collections.namedtuple(name, fields)
    return records[key]


def decode_value(description, arrays, records):
    """Rebuild an argument from :func:`encode_value`'s description; arrays are fresh copies."""
    kind = description["kind"]
    if kind == "none":
        return None
    if kind == "array":
        return arrays[description["key"]].copy()
    if kind == "literal":
        return description["value"]
    if kind == "record":
        items = [decode_value(item, arrays, records) for item in description["items"]]
        return record_type(records, description["type"], description["fields"])(*items)
    if kind in ("tuple", "list"):
        items = [decode_value(item, arrays, records) for item in description["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {key: decode_value(item, arrays, records) for key, item in description["items"].items()}
    if kind == "generator":
        bit_generator = getattr(np.random, description["state"]["bit_generator"])()
        bit_generator.state = description["state"]
        return np.random.Generator(bit_generator)
    if kind == "smooth_function":
        return SmoothFunction(description["function"], decode_value(description["A"], arrays, records))
    raise ValueError(f"unknown kind of value {kind!r}")


# ----------------------------------------------------------------------------
# Names a set-up cell imports from the course package, sent as data
# ----------------------------------------------------------------------------

class Unavailable:
    """Stands, inside the sandbox, for a name of the course package that is not sent there
    (a reference implementation, the grading checks): using it raises ``RuntimeError``."""

    def __init__(self, name, why):
        self._name, self._why = name, why

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is not available to graded code: {self._why}")

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise RuntimeError(f"{self._name}.{attribute} is not available to graded code: {self._why}")


def decode_names(specs, records):
    """``{name: object}`` for a cell's ``names``: record types, helper functions, numpy, stand-ins.

    A spec is ``{"kind": "record_type", "type", "fields"}``, ``{"kind": "numpy"}``,
    ``{"kind": "helper", "name", "source", "globals": {name: spec}}`` (a small function of the
    package, such as the one that slices a step's cache out of a sequence's, defined from its
    source in its own namespace) or ``{"kind": "unavailable", "why"}``.
    """
    names = {}
    for name, spec in specs.items():
        kind = spec["kind"]
        if kind == "record_type":
            names[name] = record_type(records, spec["type"], spec["fields"])
        elif kind == "numpy":
            names[name] = np
        elif kind == "helper":
            namespace = {"__builtins__": __builtins__, **decode_names(spec["globals"], records)}
            exec(compile(spec["source"], f"<course helper {spec['name']}>", "exec"), namespace)
            names[name] = namespace[spec["name"]]
        else:
            names[name] = Unavailable(name, spec.get("why", "it is not sent into the sandbox"))
    return names


def write_inputs(folder, cells, probes, cell_seconds):
    """Write the sandbox's inputs into ``folder``.

    cells: list of ``{"source", "names"}``; probes: list of ``(function name, args tuple,
    kwargs dict, timeout seconds)``; cell_seconds: time limit of one cell.
    """
    arrays = {}
    described = [{"function": name, "args": encode_value(tuple(args), arrays),
                  "kwargs": encode_value(dict(kwargs), arrays), "timeout": timeout}
                 for name, args, kwargs, timeout in probes]
    with open(os.path.join(folder, CELLS), "w") as handle:
        json.dump(cells, handle)
    with open(os.path.join(folder, PROBES), "w") as handle:
        json.dump({"cell_seconds": cell_seconds, "probes": described}, handle)
    np.savez(os.path.join(folder, PROBE_ARRAYS), **arrays)


def read_inputs(folder):
    """What :func:`write_inputs` wrote: ``(cells, probes, cell_seconds, records)``.

    ``probes`` is a list of ``(function name, make_arguments, timeout)``, where
    ``make_arguments()`` returns fresh ``(args, kwargs)`` for each call.
    """
    with open(os.path.join(folder, CELLS)) as handle:
        cells = json.load(handle)
    with open(os.path.join(folder, PROBES)) as handle:
        described = json.load(handle)
    with np.load(os.path.join(folder, PROBE_ARRAYS), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    records = {}

    def maker(probe):
        return lambda: (decode_value(probe["args"], arrays, records), decode_value(probe["kwargs"], arrays, records))

    probes = [(probe["function"], maker(probe), probe["timeout"]) for probe in described["probes"]]
    return cells, probes, described["cell_seconds"], records


# ----------------------------------------------------------------------------
# Results out of the sandbox: the event stream
# ----------------------------------------------------------------------------

def _is_numeric(value):
    try:
        return np.asarray(value).dtype.kind in "biufc"
    except Exception:
        return False


def _describe_leaf(value):
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (tuple, list)) or not _is_numeric(value):
        return {"kind": "object", "type": type(value).__name__}
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return {"kind": "array", "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}


def describe_result(value):
    """A JSON description of what a student's function returned: arrays inline, anything
    else by its type name. A tuple or list is described item by item and, when it is all
    numbers, also as one array (``"whole"``), as ``np.asarray`` would read it."""
    if isinstance(value, (tuple, list)):
        whole = _describe_leaf(np.asarray(value)) if _is_numeric(value) else None
        return {"kind": "sequence", "items": [_describe_leaf(item) for item in value], "whole": whole}
    return _describe_leaf(value)


def decode_result(description, placeholder):
    """Rebuild a returned value from :func:`describe_result`'s description (untrusted data).

    placeholder: function of a type name giving what stands for a value that is not an
    array (or cannot be read). Returns None, an ndarray, a list of those, or a placeholder.
    """
    kind = description.get("kind") if isinstance(description, dict) else None
    if kind == "none":
        return None
    if kind == "array" and isinstance(description.get("npy"), str):
        try:
            array = np.load(io.BytesIO(base64.b64decode(description["npy"])), allow_pickle=False)
        except Exception:
            return placeholder("unreadable value")
        return array if array.dtype.kind in "biufc" else placeholder(f"array of {array.dtype}")
    if kind == "sequence" and isinstance(description.get("items"), list):
        items = [decode_result(item, placeholder) for item in description["items"]]
        if any(not (item is None or isinstance(item, np.ndarray)) for item in items):
            whole = decode_result(description.get("whole") or {}, placeholder)
            if isinstance(whole, np.ndarray):
                return whole  # nested lists of numbers, read as one array
        return items
    type_name = description.get("type") if isinstance(description, dict) else None
    return placeholder(str(type_name or "value")[:100])


class EventWriter:
    """Writes events to the runner's result stream (a text file object, line-buffered)."""

    def __init__(self, stream):
        self._stream, self._dumps = stream, json.dumps  # bound before any student code runs

    def write(self, **fields):
        """One event: a JSON object on one line."""
        self._stream.write(self._dumps(fields) + "\n")
        self._stream.flush()


def describe_error(error):
    """``"Type: message"`` of an exception, cut to MAX_MESSAGE characters."""
    return f"{type(error).__name__}: {error}"[:MAX_MESSAGE]


def read_events(raw):
    """The events in the bytes read from the result stream: a list of dicts (bad lines are skipped)."""
    events = []
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
