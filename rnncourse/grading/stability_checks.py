"""Checks of assignment 3 (Chapter 3, vanishing and exploding gradients).

Students write ``gradient_norms_through_time``, ``global_norm``, ``clip_grad_norm``,
``clip_grad_value``, ``orthogonal`` and ``identity``. A set of gradients is passed to them
as a *tuple* of arrays (``(dWx, dWh, db)``), and their clipping functions return a tuple
(or list) of the clipped arrays in the same order: the sandboxed autograder hands back flat
sequences of arrays only, so the assignment's ``clip_grad_norm`` returns the clipped arrays
and ``global_norm`` the norm, where the package's ``rnncourse.clip.clip_grad_norm``
returns both.

``orthogonal(n, rng, gain)`` is checked for its properties (shape, ``W Wᵀ = gain² I``) and
then for its exact value: the recipe (``A = rng.standard_normal((n, n))``, QR, sign fix) is
fixed by the assignment, so a seeded generator gives one right answer.
"""
import numpy as np

from .. import clip, diagnostics, gradcheck, init
from .core import TOLERANCE, Case, Problem, _fail_if_any, output_error, problem_kind, register_references, run_cases
from .rnn_checks import sequence_inputs

__all__ = [
    "NORM_SIZES", "ORTHOGONAL_SIZES", "gradient_set",
    "gradient_norms_through_time_cases", "check_gradient_norms_through_time",
    "global_norm_cases", "check_global_norm", "clip_grad_norm_cases", "check_clip_grad_norm",
    "clip_grad_value_cases", "check_clip_grad_value", "orthogonal_cases", "check_orthogonal",
    "identity_cases", "check_identity",
]

register_references(
    diagnostics.hidden_gradients_through_time, diagnostics.gradient_norms_through_time,
    clip.global_norm, clip.clip_grad_norm, clip.clip_grad_value,
    init.orthogonal, init.orthogonalize, init.identity,
)

NORM_SIZES = ((3, 6, 2, 4), (1, 6, 2, 4), (3, 1, 2, 4), (3, 6, 2, 1))  # (N, T, D, H): random, N=1, T=1, H=1
ORTHOGONAL_SIZES = (1, 2, 5, 16)


# ----------------------------------------------------------------------------
# Gradient norm through time
# ----------------------------------------------------------------------------

_NORM_HINT = ("Start with dh = dh_last at t = T-1 and go backwards: norms[t] = mean over the batch of the "
              "L2 norm of dh over the H units (np.linalg.norm(dh, axis=1).mean()), then "
              "dh = (dh * f'(a_t)) @ Wh.T with f'(a_t) written with h[:, t], the output of step t.")


def _judge_norms(case, result):
    dh_last, cache = case.args
    expected = diagnostics.gradient_norms_through_time(dh_last, cache)
    problem = output_error(case.function, case.label, "norms", result, expected)
    if problem and problem_kind(problem) == "value":
        got = np.asarray(result, dtype=np.float64)
        T = expected.shape[0]
        frobenius = np.linalg.norm(diagnostics.hidden_gradients_through_time(dh_last, cache), axis=2)
        if gradcheck.rel_error(got, np.sqrt((frobenius**2).sum(axis=0))) < TOLERANCE:
            problem = problem.plus(" It equals the norm over the whole batch: average the per-example norms instead.")
        elif T > 1 and gradcheck.rel_error(got, expected[::-1]) < TOLERANCE:
            problem = problem.plus(" It is the right sequence in reverse order: norms[t] belongs to h[:, t].")
        else:
            last_wrong = next((t for t in reversed(range(T))
                               if gradcheck.rel_error(got[t], expected[t]) > TOLERANCE), None)
            if last_wrong is not None:
                problem = problem.plus(f" Going backwards from t={T - 1}, the first wrong entry is t={last_wrong}.")
    _fail_if_any([("norms", problem)] if problem else [], {"norms": _NORM_HINT})


def gradient_norms_through_time_cases(seed=0, sizes=NORM_SIZES, activation_names=("tanh",), scale=1.0):
    """Cases of ``gradient_norms_through_time(dh_last, cache)``; ``cache`` is the reference SequenceCache.

    ``scale`` multiplies the recurrent weights (values above 1 make the gradients grow).
    """
    from .. import rnn

    cases = []
    for N, T, D, H in sizes:
        inputs = sequence_inputs(seed, N, T, D, H)
        inputs["Wh"] = inputs["Wh"] * scale
        dh_last = np.random.default_rng(seed + 1).standard_normal((N, H))
        for activation in activation_names:
            _, cache = rnn.rnn_forward(**inputs, activation=activation)
            label = f"seed={seed}, N={N}, T={T}, D={D}, H={H}, activation={activation!r}, Wh scale={scale}"
            cases.append(Case("gradient_norms_through_time", label, (dh_last, cache), {}, _judge_norms))
    return cases


def check_gradient_norms_through_time(fn, seed=0, sizes=NORM_SIZES, activation_names=("tanh",), scale=1.0):
    """Check ``fn(dh_last, cache) -> norms (T,)``, the mean per-example norm of dL/dh_t for every t."""
    run_cases(fn, gradient_norms_through_time_cases(seed, sizes, activation_names, scale))


# ----------------------------------------------------------------------------
# Global norm and clipping
# ----------------------------------------------------------------------------

def gradient_set(seed, sizes=((3, 4), (4, 4), (4,)), scale=1.0):
    """A seeded tuple of gradient arrays with the given shapes, times ``scale``."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(shape) * scale for shape in sizes)


def _gradient_sets(seed):
    """(label, grads) pairs: large (clipping acts), small (it does not), one array, mixed sizes."""
    return [
        ("three arrays (3, 4), (4, 4), (4,), norm about 50", gradient_set(seed, scale=8.0)),
        ("three arrays, norm about 0.3", gradient_set(seed + 1, scale=0.05)),
        ("one array (5, 2)", gradient_set(seed + 2, ((5, 2),), scale=3.0)),
        ("arrays (1, 1), (2, 3, 2), (1,)", gradient_set(seed + 3, ((1, 1), (2, 3, 2), (1,)), scale=2.0)),
    ]


_GLOBAL_NORM_HINT = ("The global norm is sqrt of the sum of the squares of all entries of all arrays: "
                     "np.sqrt(sum(np.sum(g**2) for g in grads)), not the sum of the arrays' norms.")


def _judge_global_norm(case, result):
    expected = np.asarray(clip.global_norm(case.args[0]), dtype=np.float64)
    if isinstance(result, (list, tuple)) and len(result) == 1:
        result = result[0]
    problem = output_error(case.function, case.label, "total_norm", result, expected)
    _fail_if_any([("total_norm", problem)] if problem else [], {"total_norm": _GLOBAL_NORM_HINT})


def global_norm_cases(seed=0):
    """Cases of ``global_norm(grads)`` with ``grads`` a tuple of arrays."""
    return [Case("global_norm", f"{label}, seed={seed}", (grads,), {}, _judge_global_norm)
            for label, grads in _gradient_sets(seed)]


def check_global_norm(fn, seed=0):
    """Check ``fn(grads) -> total_norm``, the L2 norm of all entries of the tuple of arrays ``grads``."""
    run_cases(fn, global_norm_cases(seed))


def _clipped_problems(case, result, expected, hint_key):
    """Problems of a returned sequence of clipped arrays against the expected tuple."""
    k = len(expected)
    if result is None:
        return [(hint_key, Problem(f"{case.function}, case {case.label}: returned None. "
                                   "Did you forget a `return`?", "missing"))]
    if isinstance(result, np.ndarray) and k == 1 and result.shape == expected[0].shape:
        return [(hint_key, Problem(f"{case.function}, case {case.label}: returned one array; return a tuple "
                                   "(or list) of the clipped arrays, here a tuple of length 1.", "type"))]
    if not isinstance(result, (tuple, list)) or len(result) != k:
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else type(result).__name__
        return [(hint_key, Problem(f"{case.function}, case {case.label}: must return a tuple of {k} clipped "
                                   f"arrays, one per gradient, in the order of grads; got {got}.", "type"))]
    return [(hint_key, p) for i, (g, e) in enumerate(zip(result, expected))
            if (p := output_error(case.function, case.label, f"clipped[{i}]", g, e))]


_CLIP_NORM_HINT = ("Multiply every array by the same factor min(1, max_norm / (total_norm + 1e-6)), where "
                   "total_norm is the global norm of all arrays together; gradients with a smaller norm "
                   "come back unchanged.")


def _judge_clip_grad_norm(case, result):
    grads, max_norm = case.args
    expected, _ = clip.clip_grad_norm(grads, max_norm)
    # Values within the tolerance of the reference's have its norm (<= max_norm) to that tolerance.
    _fail_if_any(_clipped_problems(case, result, expected, "clipped"), {"clipped": _CLIP_NORM_HINT})


def clip_grad_norm_cases(seed=0, max_norms=(1.0, 5.0)):
    """Cases of ``clip_grad_norm(grads, max_norm)`` with ``grads`` a tuple of arrays."""
    return [Case("clip_grad_norm", f"{label}, max_norm={m}, seed={seed}", (grads, m), {}, _judge_clip_grad_norm)
            for label, grads in _gradient_sets(seed) for m in max_norms]


def check_clip_grad_norm(fn, seed=0, max_norms=(1.0, 5.0)):
    """Check ``fn(grads, max_norm) -> clipped``: a tuple of the arrays of ``grads`` rescaled together."""
    run_cases(fn, clip_grad_norm_cases(seed, max_norms))


_CLIP_VALUE_HINT = ("Cut every entry to the interval [-clip_value, clip_value]: np.clip(g, -clip_value, "
                    "clip_value) for each array, into a new array.")


def _judge_clip_grad_value(case, result):
    grads, clip_value = case.args
    problems = _clipped_problems(case, result, clip.clip_grad_value(grads, clip_value), "clipped")
    _fail_if_any(problems, {"clipped": _CLIP_VALUE_HINT})


def clip_grad_value_cases(seed=0, clip_values=(0.5, 3.0)):
    """Cases of ``clip_grad_value(grads, clip_value)`` with ``grads`` a tuple of arrays."""
    return [Case("clip_grad_value", f"{label}, clip_value={c}, seed={seed}", (grads, c), {}, _judge_clip_grad_value)
            for label, grads in _gradient_sets(seed) for c in clip_values]


def check_clip_grad_value(fn, seed=0, clip_values=(0.5, 3.0)):
    """Check ``fn(grads, clip_value) -> clipped``: a tuple of the arrays of ``grads`` cut element-wise."""
    run_cases(fn, clip_grad_value_cases(seed, clip_values))


# ----------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------

_ORTHOGONAL_HINT = ("Draw A = rng.standard_normal((n, n)) (nothing else from rng), take Q, R = np.linalg.qr(A), "
                    "multiply column j of Q by the sign of R[j, j] (Q * np.sign(np.diag(R))), then by gain.")


def _judge_orthogonal(case, result):
    n, gain = case.args[0], case.kwargs.get("gain", 1.0)
    expected = init.orthogonal(n, np.random.default_rng(case.context["seed"]), gain)
    where = f"{case.function}, case {case.label}: output W"
    problem = output_error(case.function, case.label, "W", result, expected)
    if problem and problem_kind(problem) == "value":
        W = np.asarray(result, dtype=np.float64)
        deviation = np.abs(W @ W.T - gain**2 * np.eye(n)).max()
        if deviation > 1e-10:
            problem = Problem(
                f"{where} is not orthogonal times gain: max |W W^T - gain^2 I| = {deviation:.1e}. "
                + ("W W^T = I holds, so the gain is missing." if np.abs(W @ W.T - np.eye(n)).max() < 1e-10 else ""),
                "value")
        elif np.allclose(np.abs(W), np.abs(expected), atol=1e-10):
            problem = Problem(f"{where} is orthogonal but some columns have the wrong sign: "
                              "apply the sign fix with the diagonal of R.", "value")
        else:
            problem = Problem(f"{where} is orthogonal but not the matrix of the recipe (relative error "
                              f"{gradcheck.rel_error(W, expected):.1e}): check what you draw from rng.", "value")
    _fail_if_any([("W", problem)] if problem else [], {"W": _ORTHOGONAL_HINT})


def orthogonal_cases(seed=0, sizes=ORTHOGONAL_SIZES, gains=(1.0,)):
    """Cases of ``orthogonal(n, rng, gain=...)``; ``rng`` is ``np.random.default_rng(seed + n)``."""
    return [Case("orthogonal", f"n={n}, rng=np.random.default_rng({seed + n}), gain={gain}",
                 (n, np.random.default_rng(seed + n)), {"gain": gain}, _judge_orthogonal, {"seed": seed + n})
            for n in sizes for gain in gains]


def check_orthogonal(fn, seed=0, sizes=ORTHOGONAL_SIZES, gains=(1.0,)):
    """Check ``fn(n, rng, gain=1.0) -> W (n, n)``: orthogonal times gain, and exactly the recipe's matrix."""
    run_cases(fn, orthogonal_cases(seed, sizes, gains))


def _judge_identity(case, result):
    expected = init.identity(*case.args, **case.kwargs)
    problem = output_error(case.function, case.label, "W", result, expected)
    _fail_if_any([("W", problem)] if problem else [], {"W": "W = scale * np.eye(n), an (n, n) array."})


def identity_cases(sizes=(1, 3, 6), scales=(1.0, 0.5)):
    """Cases of ``identity(n, scale=...)``."""
    return [Case("identity", f"n={n}, scale={s}", (n,), {"scale": s}, _judge_identity)
            for n in sizes for s in scales]


def check_identity(fn, sizes=(1, 3, 6), scales=(1.0, 0.5)):
    """Check ``fn(n, scale=1.0) -> W (n, n)`` equal to ``scale * I``."""
    run_cases(fn, identity_cases(sizes, scales))


# The cases behind every ``check_<name>`` of this module, for the sandboxed autograder.
CASES = {
    "check_gradient_norms_through_time": gradient_norms_through_time_cases,
    "check_global_norm": global_norm_cases,
    "check_clip_grad_norm": clip_grad_norm_cases,
    "check_clip_grad_value": clip_grad_value_cases,
    "check_orthogonal": orthogonal_cases,
    "check_identity": identity_cases,
}
