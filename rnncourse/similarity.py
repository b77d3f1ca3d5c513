"""Copy detection for the instructor: how alike two pieces of solution code are.

Code is compared after normalisation, so that renaming variables, rewriting
comments or docstrings and reformatting change nothing: the code is parsed, its
docstrings dropped, every name the author chose (variables, arguments, functions)
replaced by a placeholder numbered in order of first use, and the result turned
into a stream of tokens. Library names (``np.tanh``, ``.T``, ``.sum``) are kept,
since they carry the method. Two token streams are compared with
``difflib.SequenceMatcher``; 1.0 means identical after normalisation.
This flags submissions for a human to review; it never changes a grade.
"""
import ast
import difflib
import inspect
import io
import tokenize

MIN_TOKENS = 40  # shorter code (a one-line activation) is alike in every correct answer


class _Renamer(ast.NodeTransformer):
    """Replace the names a programmer chose by placeholders v0, v1, ... in order of first use."""

    def __init__(self, keep):
        self.keep, self.names = keep, {}

    def _new(self, name):
        if name in self.keep:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node):
        node.arg, node.annotation = self._new(node.arg), None
        return node

    def visit_FunctionDef(self, node):
        node.name = self._new(node.name)
        node.returns = None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node


def _imported_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def normalized_tokens(code):
    """The token stream of ``code`` after normalisation (list of strings); [] if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    keep = _imported_names(tree) | {"np", "numpy", "range", "len", "zip", "reversed", "enumerate",
                                    "float", "int", "abs", "max", "min", "sum", "print", "isinstance"}
    tree = _Renamer(keep).visit(tree)
    text = ast.unparse(tree)
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.COMMENT, tokenize.ENDMARKER):
            tokens.append(token.string)
    return tokens


def similarity(tokens_a, tokens_b):
    """Similarity in [0, 1] of two normalised token streams (0 if either is empty)."""
    if not tokens_a or not tokens_b:
        return 0.0
    return difflib.SequenceMatcher(None, tokens_a, tokens_b, autojunk=False).ratio()


def defined_functions(code):
    """Names of the functions ``code`` defines at top level."""
    try:
        return [node.name for node in ast.parse(code).body if isinstance(node, ast.FunctionDef)]
    except (SyntaxError, ValueError):
        return []


def reference_sources(functions):
    """``{name: source}`` of the package's reference functions (for comparing with students)."""
    return {f.__name__: inspect.getsource(f) for f in functions}


def find_copies(answers, references, threshold=0.9):
    """Flag pairs of near-identical solutions.

    Args:
        answers: ``{student: {grade_id: code}}``
        references: ``{function name: reference source}``
        threshold: similarity at or above which a pair is flagged

    Returns:
        list of dicts ``{"student", "grade_id", "other", "similarity"}``, most similar first;
        ``other`` is another student's id or ``"reference:<function>"``.
    """
    reference_tokens = {name: normalized_tokens(source) for name, source in references.items()}
    flags = []
    by_cell = {}
    for student, cells in answers.items():
        for grade_id, code in cells.items():
            tokens = normalized_tokens(code)
            if len(tokens) < MIN_TOKENS:
                continue
            by_cell.setdefault(grade_id, []).append((student, tokens))
            for name in defined_functions(code):
                if name in reference_tokens:
                    score = similarity(tokens, reference_tokens[name])
                    if score >= threshold:
                        flags.append({"student": student, "grade_id": grade_id,
                                      "other": f"reference:{name}", "similarity": round(score, 3)})
    for grade_id, entries in by_cell.items():
        for i, (student, tokens) in enumerate(entries):
            for other, other_tokens in entries[i + 1:]:
                score = similarity(tokens, other_tokens)
                if score >= threshold:
                    flags.append({"student": student, "grade_id": grade_id, "other": other,
                                  "similarity": round(score, 3)})
    return sorted(flags, key=lambda flag: (-flag["similarity"], flag["student"], flag["grade_id"]))
