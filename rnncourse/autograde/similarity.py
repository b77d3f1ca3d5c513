"""Copy detection for the instructor, with copydetect (winnowed fingerprints of the code).

Every student starts from the same released template (signatures, docstrings, given lines),
so that code is removed first: its fingerprints are copydetect's *boilerplate* and never
count as shared. What remains is compared pairwise (students who answered the same cell)
and with the package's reference implementation of each function the answer defines.
copydetect's tokenizer replaces names by placeholders, so renaming variables, rewriting
comments or reformatting changes nothing. A pair is reported, with the lines both
share, when at least ``MIN_SHARED`` characters of normalised code are shared and
they make up at least ``threshold`` (half, by default) of one side's own code. This flags submissions for a
human to review; it never changes a grade.
"""
import ast
import inspect
import io

import numpy as np
from copydetect import CodeFingerprint, compare_files

from .plan import parse_python

NOISE = 25  # characters of normalised code in one fingerprint (copydetect's noise threshold)
GUARANTEE = 30  # any match this long is found (copydetect's guarantee threshold)
MIN_SHARED = 60  # normalised characters shared at least: a one-line activation is alike in every answer


def fingerprint(code, boilerplate=None):
    """copydetect's fingerprint of ``code`` (a str) without the fingerprints in ``boilerplate``."""
    return CodeFingerprint("answer.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate, fp=io.StringIO(code))


def boilerplate_of(template):
    """The fingerprints of released template code, to leave out of every comparison (an int array)."""
    return np.array(sorted(fingerprint(template).hashes), dtype=np.int64) if template else None


def shared_lines(code, slices, template=""):
    """The lines of ``code`` inside copydetect's ``slices`` (2 x n character offsets), with their
    numbers; lines that are in ``template`` (given to everyone) are left out."""
    starts = np.cumsum([0] + [len(line) + 1 for line in code.splitlines()])
    numbers = set()
    for start, stop in zip(*slices):
        first = int(np.searchsorted(starts, start, side="right")) - 1
        last = int(np.searchsorted(starts, max(start, stop - 1), side="right")) - 1
        numbers.update(range(first, last + 1))
    lines, given = code.splitlines(), {line.strip() for line in template.splitlines()}
    return [f"{n + 1}: {lines[n].strip()}" for n in sorted(numbers)
            if 0 <= n < len(lines) and lines[n].strip() and lines[n].strip() not in given]


def compare(code_a, code_b, template=""):
    """How much two pieces of code share once the ``template`` code is left out.

    Returns ``(similarity, shared characters, lines of a, lines of b)``; similarity is the
    larger of the two shares (shared code over each side's code), in [0, 1]; shared
    characters are counted in copydetect's normalised code.
    """
    boilerplate = boilerplate_of(template)
    a, b = fingerprint(code_a, boilerplate), fingerprint(code_b, boilerplate)
    if not a.hashes or not b.hashes:
        return 0.0, 0, [], []
    overlap, (share_a, share_b), (slices_a, slices_b) = compare_files(a, b)
    if not overlap:
        return 0.0, 0, [], []
    return (float(max(share_a, share_b)), int(overlap),
            shared_lines(code_a, slices_a, template), shared_lines(code_b, slices_b, template))


def defined_functions(code):
    """Names of the functions ``code`` defines at top level."""
    try:
        return [node.name for node in parse_python(code).body if isinstance(node, ast.FunctionDef)]
    except (SyntaxError, ValueError):
        return []


def reference_sources(functions):
    """``{name: source}`` of the package's reference functions (for comparing with students)."""
    return {f.__name__: inspect.getsource(f) for f in functions}


def find_copies(answers, templates, references, threshold=0.5):
    """Flag pairs of solutions that share most of their own code.

    Args:
        answers: ``{student: {grade_id: code}}``
        templates: ``{grade_id: released code of that cell}`` (left out of every comparison)
        references: ``{function name: reference source}``
        threshold: share of one side's code at or above which a pair is flagged

    Returns:
        list of dicts ``{"student", "grade_id", "other", "similarity", "shared_lines"}``, most
        similar first; ``other`` is another student's id or ``"reference:<function>"``;
        ``shared_lines`` are the student's lines found in the other code.
    """
    flags, by_cell = [], {}

    def flag(student, grade_id, other, code_a, code_b, template):
        score, overlap, lines, _ = compare(code_a, code_b, template)
        if overlap >= MIN_SHARED and score >= threshold:
            flags.append({"student": student, "grade_id": grade_id, "other": other,
                          "similarity": round(score, 3), "shared_lines": lines})

    for student in sorted(answers):
        for grade_id, code in answers[student].items():
            by_cell.setdefault(grade_id, []).append((student, code))
            for name in defined_functions(code):
                if name in references:
                    flag(student, grade_id, f"reference:{name}", code, references[name], templates.get(grade_id, ""))
    for grade_id, entries in by_cell.items():
        for i, (student, code) in enumerate(entries):
            for other, other_code in entries[i + 1:]:
                flag(student, grade_id, other, code, other_code, templates.get(grade_id, ""))
    return sorted(flags, key=lambda f: (-f["similarity"], f["student"], f["grade_id"]))
