"""Tests of the checks of assignment 3 (rnncourse.grading.stability_checks).

For every check: a correct implementation written here passes; the package's reference and a
wrapper around it are refused; a function that writes into its input is refused; realistic
bugs fail with a message naming the function and the output, with a hint.
"""
import numpy as np
import pytest

from rnncourse import clip, diagnostics, grading, init
from rnncourse.grading import stability_checks


# ============================================================================
# Correct student implementations, independent of the package
# ============================================================================

DERIVATIVES = {"tanh": lambda h: 1 - h * h, "sigmoid": lambda h: h - h * h, "relu": lambda h: np.where(h > 0, 1.0, 0.0)}


def good_norms(dh_last, cache):
    x, h0, Wx, Wh, h, activation = cache
    out, dh = [], dh_last
    for t in range(h.shape[1] - 1, -1, -1):
        out.append(np.sqrt(np.einsum("nh,nh->n", dh, dh)).mean())
        dh = np.einsum("nj,ij->ni", dh * DERIVATIVES[activation](h[:, t]), Wh)
    return np.array(out[::-1])


def good_global_norm(grads):
    return np.sqrt(sum(float(np.vdot(g, g)) for g in grads))


def good_clip_norm(grads, max_norm):
    total = good_global_norm(grads)
    factor = max_norm / (total + 1e-6) if total + 1e-6 > max_norm else 1.0
    return [np.multiply(g, factor) for g in grads]


def good_clip_value(grads, clip_value):
    return tuple(np.where(g > clip_value, clip_value, np.where(g < -clip_value, -clip_value, g)) for g in grads)


def good_orthogonal(n, rng, gain=1.0):
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return gain * Q @ np.diag(np.where(np.diag(R) < 0, -1.0, 1.0))


def good_identity(n, scale=1.0):
    W = np.zeros((n, n))
    W[np.arange(n), np.arange(n)] = scale
    return W


GOOD = {
    "check_gradient_norms_through_time": good_norms, "check_global_norm": good_global_norm,
    "check_clip_grad_norm": good_clip_norm, "check_clip_grad_value": good_clip_value,
    "check_orthogonal": good_orthogonal, "check_identity": good_identity,
}
REFERENCE = {
    "check_gradient_norms_through_time": diagnostics.gradient_norms_through_time,
    "check_global_norm": clip.global_norm,
    "check_clip_grad_norm": lambda grads, max_norm: clip.clip_grad_norm(grads, max_norm)[0],
    "check_clip_grad_value": clip.clip_grad_value,
    "check_orthogonal": init.orthogonal, "check_identity": init.identity,
}
DIRECT_REFERENCE = {k: v for k, v in REFERENCE.items() if k != "check_clip_grad_norm"}


def test_cases_registered_for_the_autograder():
    assert set(stability_checks.CASES) == set(GOOD)
    assert all(name in grading.CASES for name in GOOD)
    for name, make in stability_checks.CASES.items():
        import pickle
        for case in make():
            pickle.dumps((case.args, case.kwargs))


@pytest.mark.parametrize("name", sorted(GOOD))
def test_correct_implementation_passes(name):
    getattr(grading, name)(GOOD[name])


def test_correct_implementation_passes_other_settings():
    grading.check_gradient_norms_through_time(good_norms, seed=5, activation_names=["relu", "sigmoid"], scale=3.0)
    grading.check_clip_grad_norm(good_clip_norm, seed=9, max_norms=[0.01, 1e3])
    grading.check_orthogonal(good_orthogonal, seed=4, sizes=[3, 8], gains=[0.5, 2.0])


@pytest.mark.parametrize("name", sorted(DIRECT_REFERENCE))
def test_reference_is_refused(name):
    with pytest.raises(AssertionError, match="reference"):
        getattr(grading, name)(DIRECT_REFERENCE[name])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_wrapper_of_reference_is_refused(name):
    reference = REFERENCE[name]

    def wrapper(*args, **kwargs):
        return reference(*args, **kwargs)

    with pytest.raises(AssertionError, match="reference"):
        getattr(grading, name)(wrapper)


def test_mutation_is_refused():
    def clip_in_place(grads, max_norm):
        scale = min(1.0, max_norm / (good_global_norm(grads) + 1e-6))
        for g in grads:
            g *= scale
        return tuple(grads)

    def value_in_place(grads, clip_value):
        for g in grads:
            np.clip(g, -clip_value, clip_value, out=g)
        return grads

    def norms_in_place(dh_last, cache):
        result = good_norms(dh_last.copy(), cache)
        dh_last[:] = 0
        return result

    for check, fn in (("check_clip_grad_norm", clip_in_place), ("check_clip_grad_value", value_in_place),
                      ("check_gradient_norms_through_time", norms_in_place)):
        with pytest.raises(AssertionError, match="modified one of its input arrays"):
            getattr(grading, check)(fn)


def _fails(check, fn, *fragments, **kwargs):
    with pytest.raises(AssertionError) as error:
        getattr(grading, check)(fn, **kwargs)
    message = str(error.value)
    if "is wrong: relative error" in message or "orthogonal" in message:
        assert "Hint" in message, message  # a wrong value gets a hint about the formula
    if any(kind in message for kind in ("has shape", "is None", "returned None", "must return a tuple")):
        assert "Hint" not in message, message  # a failure of another kind gets none
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_gradient_norm_bugs():
    def previous_state(dh_last, cache):
        x, h0, Wx, Wh, h, activation = cache
        out, dh = np.zeros(h.shape[1]), dh_last
        for t in range(h.shape[1] - 1, -1, -1):
            out[t] = np.linalg.norm(dh, axis=1).mean()
            h_t = h0 if t == 0 else h[:, t - 1]
            dh = (dh * (1 - h_t**2)) @ Wh.T
        return out

    def _frobenius(dh_last, cache):
        x, h0, Wx, Wh, h, activation = cache
        out, dh = [], dh_last
        for t in range(h.shape[1] - 1, -1, -1):
            out.append(np.linalg.norm(dh))
            dh = (dh * (1 - h[:, t] ** 2)) @ Wh.T
        return np.array(out[::-1])

    def no_transpose(dh_last, cache):
        x, h0, Wx, Wh, h, activation = cache
        out, dh = np.zeros(h.shape[1]), dh_last
        for t in range(h.shape[1] - 1, -1, -1):
            out[t] = np.linalg.norm(dh, axis=1).mean()
            dh = (dh * (1 - h[:, t] ** 2)) @ Wh
        return out

    def reversed_order(dh_last, cache):
        return good_norms(dh_last, cache)[::-1]

    _fails("check_gradient_norms_through_time", previous_state, "gradient_norms_through_time", "output norms",
           "first wrong entry")
    _fails("check_gradient_norms_through_time", _frobenius, "norm over the whole batch")
    _fails("check_gradient_norms_through_time", no_transpose, "output norms")
    _fails("check_gradient_norms_through_time", reversed_order, "reverse order")


def test_global_norm_bugs():
    _fails("check_global_norm", lambda grads: sum(np.linalg.norm(g) for g in grads), "global_norm", "total_norm")
    _fails("check_global_norm", lambda grads: sum(np.sum(g**2) for g in grads), "total_norm", "sqrt")
    _fails("check_global_norm", lambda grads: np.linalg.norm(grads[0]), "total_norm")


def test_clip_grad_norm_bugs():
    def per_array(grads, max_norm):
        return tuple(g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads)

    def always_scale(grads, max_norm):
        return tuple(g * max_norm / good_global_norm(grads) for g in grads)

    def returns_pair(grads, max_norm):
        return good_clip_norm(grads, max_norm), good_global_norm(grads)

    _fails("check_clip_grad_norm", per_array, "clip_grad_norm", "clipped[")
    _fails("check_clip_grad_norm", always_scale, "clipped[", "unchanged")
    _fails("check_clip_grad_norm", returns_pair, "must return a tuple of 3 clipped arrays")
    _fails("check_clip_grad_norm", lambda grads, max_norm: None, "None")


def test_clip_grad_value_bugs():
    _fails("check_clip_grad_value", lambda grads, c: tuple(np.minimum(g, c) for g in grads), "clip_grad_value", "clipped[")
    _fails("check_clip_grad_value", lambda grads, c: tuple(np.clip(g, 0, c) for g in grads), "clipped[")
    # right values kept in float32 earn the point: values are graded, not dtypes
    assert grading.check_clip_grad_value(lambda grads, c: tuple(np.clip(g, -c, c).astype(np.float32) for g in grads)) is None


def test_orthogonal_bugs():
    def no_sign_fix(n, rng, gain=1.0):
        return gain * np.linalg.qr(rng.standard_normal((n, n)))[0]

    def no_gain(n, rng, gain=1.0):
        return good_orthogonal(n, rng)

    def other_draw(n, rng, gain=1.0):
        return good_orthogonal(n, np.random.default_rng(rng.integers(1000)), gain)

    def not_orthogonal(n, rng, gain=1.0):
        return gain * rng.standard_normal((n, n)) / np.sqrt(n)

    _fails("check_orthogonal", no_sign_fix, "orthogonal", "sign fix")
    _fails("check_orthogonal", no_gain, "gain is missing", gains=[2.0])
    _fails("check_orthogonal", other_draw, "not the matrix of the recipe", sizes=[5])
    _fails("check_orthogonal", not_orthogonal, "is not orthogonal")


def test_identity_bugs():
    _fails("check_identity", lambda n, scale=1.0: np.eye(n), "identity", "output W")
    _fails("check_identity", lambda n, scale=1.0: scale * np.ones((n, n)), "output W")
    assert grading.check_identity(lambda n, scale=1.0: (scale * np.eye(n)).astype(np.float32)) is None
    _fails("check_identity", lambda n, scale=1.0: (scale * np.eye(n)).astype(np.complex64), "return real numbers")


def test_not_implemented_propagates():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in GOOD:
        with pytest.raises(NotImplementedError):
            getattr(grading, name)(stub)
