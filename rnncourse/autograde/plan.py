"""The plan of a graded run, read from the instructor's source notebook.

- Test cells become checks: each is a list of ``grading.check_*`` calls, turned into cases
  (the calls the sandbox makes, and the judges that decide outside it).
- Set-up cells run in the sandbox before the student's code; what they import from the
  course package is sent there as data (:func:`package_names`), since the package itself
  is not in the sandbox.
"""
import ast
import dis
import importlib
import inspect
import threading
import types

from .. import grading


# CPython 3.11 counts the depth of AST construction in one counter per interpreter, so two
# threads parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). The local Dask cluster grades submissions in threads.
_AST_LOCK = threading.Lock()


def parse_python(source):
    """``ast.parse(source)``, one thread at a time (see ``_AST_LOCK``)."""
    with _AST_LOCK:
        return ast.parse(source)


def nbgrader_metadata(cell):
    """The ``nbgrader`` metadata of a notebook cell (a dict, empty when there is none)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def parse_test_cell(source):
    """The checks a test cell makes: a list of ``(check name, student function name, extra args, kwargs)``.

    A test cell may contain only calls ``grading.check_<name>(<function>, key=literal, ...)``
    (and comments); keyword values are literals or ``grading.<CONSTANT>``. Anything
    else raises ``ValueError``: the sandboxed grader does not run test code.
    """
    checks = []
    for statement in parse_python(source).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id == "grading"
                and call.func.attr in grading.CASES and len(call.args) >= 1
                and isinstance(call.args[0], ast.Name)):
            raise ValueError(f"unsupported statement in a test cell: {ast.unparse(statement)!r}; "
                             "test cells may only call grading.check_*(<function>, ...)")
        kwargs = {}
        for keyword in call.keywords:
            value = keyword.value
            if (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                    and value.value.id == "grading" and value.attr.isupper()):
                kwargs[keyword.arg] = getattr(grading, value.attr)
            else:
                kwargs[keyword.arg] = ast.literal_eval(value)
        extra_args = [ast.literal_eval(a) for a in call.args[1:]]
        checks.append((call.func.attr, call.args[0].id, extra_args, kwargs))
    return checks


# ----------------------------------------------------------------------------
# What a set-up cell imports from the package, as data
# ----------------------------------------------------------------------------

def _is_record_type(value):
    return isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields")


def _global_names(code):
    """Names a function's code (and the code nested in it) reads as globals."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def describe_name(name, value):
    """The spec (see :func:`rnncourse.autograde.sandboxed.protocol.decode_names`) that rebuilds
    ``value``, a name of the package, inside the sandbox.

    Record types (NamedTuples) go as their fields; small helper functions as their source,
    with the record types and helpers they use; numpy as itself. A reference
    implementation, a module (``grading``) or a class becomes a stand-in that raises when
    used. Anything else raises ``ValueError``: it cannot be sent.
    """
    references = {(f.__module__, f.__name__) for f in grading.REFERENCE_FUNCTIONS}
    if isinstance(value, types.ModuleType):
        if value.__name__ == "numpy":
            return {"kind": "numpy"}
        return {"kind": "unavailable", "why": "the course package is not in the sandbox; the checks run outside it"}
    if _is_record_type(value):
        return {"kind": "record_type", "type": value.__name__, "fields": list(value._fields)}
    if inspect.isfunction(value) and (value.__module__, value.__name__) in references:
        return {"kind": "unavailable", "why": "it is a reference implementation of the course"}
    if inspect.isfunction(value) and (value.__module__ or "").startswith("rnncourse"):
        uses = {}
        for used in sorted(_global_names(value.__code__)):
            if used in value.__globals__ and used != value.__name__:
                uses[used] = describe_name(used, value.__globals__[used])
                if uses[used]["kind"] == "unavailable":
                    raise ValueError(f"{value.__module__}.{name} uses {used}, which is not sent into the sandbox")
        return {"kind": "helper", "name": value.__name__, "source": inspect.getsource(value), "globals": uses}
    raise ValueError(f"{name} ({type(value).__name__}) cannot be sent into the sandbox")


def package_names(source):
    """Split a set-up cell into its code without its imports from ``rnncourse`` and the names
    those imports bind, as specs: returns ``(code, {name: spec})``.

    Only top-level ``import`` statements are read; one that mixes ``rnncourse`` with other
    modules, or a ``*`` import, raises ``ValueError``.
    """
    tree = parse_python(source)
    names, dropped = {}, set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "rnncourse":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if alias.name == "*":
                    raise ValueError(f"`from {node.module} import *` in a set-up cell: name what it imports")
                value = getattr(module, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = describe_name(alias.name, value)
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "rnncourse" for a in node.names):
            if not all(a.name.split(".")[0] == "rnncourse" for a in node.names):
                raise ValueError(f"{ast.unparse(node)!r}: import rnncourse on a line of its own")
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = describe_name(local, importlib.import_module(alias.name if alias.asname else local))
        else:
            continue
        dropped.update(range(node.lineno, node.end_lineno + 1))
    kept = [line for number, line in enumerate(source.splitlines(), start=1) if number not in dropped]
    return "\n".join(kept), names


# ----------------------------------------------------------------------------
# The plan
# ----------------------------------------------------------------------------

def load_plan(source_notebook):
    """Read the instructor's notebook (a NotebookNode) into a plan.

    Returns a list of code cells in order, each a dict: ``{"kind": "setup" | "solution" |
    "test", "grade_id", "source", "points"}``, plus ``"checks"`` for a test cell (see
    :func:`parse_test_cell`) and ``"code"``, ``"names"`` for a set-up cell (see
    :func:`package_names`). An unsupported cell raises ``ValueError``.
    """
    plan = []
    for cell in source_notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_metadata(cell)
        entry = {"grade_id": meta.get("grade_id"), "source": cell.source, "points": meta.get("points", 0)}
        if meta.get("solution"):
            entry["kind"] = "solution"
        elif meta.get("grade"):
            entry["kind"] = "test"
            entry["checks"] = parse_test_cell(cell.source)
        else:
            entry["kind"] = "setup"
            entry["code"], entry["names"] = package_names(cell.source)
        plan.append(entry)
    return plan


def plan_cases(plan):
    """Every case of every test cell: a list of ``(grade_id, student function name, Case)``."""
    cases = []
    for entry in plan:
        if entry["kind"] == "test":
            for check, function_name, extra_args, kwargs in entry["checks"]:
                for case in grading.CASES[check](*extra_args, **kwargs):
                    cases.append((entry["grade_id"], function_name, case))
    return cases
