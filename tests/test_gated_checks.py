"""Tests of rnncourse.grading's LSTM and GRU checks, with student functions written here.

For every check: a correct implementation written in this file (not the package's)
passes; the package's reference and a wrapper around it are refused; a function
that writes into its input is refused; realistic bugs fail with a message that
names the function and the wrong output and gives a hint.
"""
import pickle
import sys

import numpy as np
import pytest

from rnncourse import grading, gru, lstm


# ============================================================================
# Correct student implementations, independent of the package
# ============================================================================

def sig(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def blocks(W, count):
    """Split the last axis of W into ``count`` equal gate blocks."""
    return np.split(W, count, axis=-1)


def good_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    (Wxi, Wxf, Wxg, Wxo), (Whi, Whf, Whg, Who), (bi, bf, bg, bo) = blocks(Wx, 4), blocks(Wh, 4), blocks(b, 4)
    i = sig(np.einsum("nd,dh->nh", x, Wxi) + np.einsum("nk,kh->nh", h_prev, Whi) + bi)
    f = sig(np.einsum("nd,dh->nh", x, Wxf) + np.einsum("nk,kh->nh", h_prev, Whf) + bf)
    g = np.tanh(np.einsum("nd,dh->nh", x, Wxg) + np.einsum("nk,kh->nh", h_prev, Whg) + bg)
    o = sig(np.einsum("nd,dh->nh", x, Wxo) + np.einsum("nk,kh->nh", h_prev, Who) + bo)
    c_next = c_prev * f + g * i
    return np.tanh(c_next) * o, c_next, {"gates": (i, f, g, o)}


def good_lstm_forward(x, h0, Wx, Wh, b, c0=None):
    h, c = h0, np.zeros(h0.shape) if c0 is None else c0
    states = []
    for t in range(x.shape[1]):
        h, c, _ = good_lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        states.append(h)
    return np.stack(states, axis=1), None


def good_lstm_step_backward(dh_next, dc_next, cache):
    i, f, g, o = cache.i, cache.f, cache.g, cache.o
    tc = np.tanh(cache.c_next)
    dcell = dh_next * o * (1.0 - tc * tc) + dc_next
    da = np.hstack([dcell * g * i * (1.0 - i), dcell * cache.c_prev * f * (1.0 - f),
                    dcell * i * (1.0 - g * g), dh_next * tc * o * (1.0 - o)])
    return (np.einsum("ng,dg->nd", da, cache.Wx), np.einsum("ng,kg->nk", da, cache.Wh), dcell * f,
            np.einsum("nd,ng->dg", cache.x, da), np.einsum("nk,ng->kg", cache.h_prev, da), np.einsum("ng->g", da))


def good_lstm_backward(dh, cache, carry_cell=True):
    T = dh.shape[1]
    grads_x = [None] * T
    dWx, dWh, db = 0.0, 0.0, 0.0
    carry_h, carry_c = np.zeros(cache.h0.shape), np.zeros(cache.c0.shape)
    for t in range(T - 1, -1, -1):
        step = lstm.LSTMStepCache(cache.x[:, t], cache.h0 if t == 0 else cache.h[:, t - 1],
                                  cache.c0 if t == 0 else cache.c[:, t - 1], cache.Wx, cache.Wh,
                                  cache.i[:, t], cache.f[:, t], cache.g[:, t], cache.o[:, t],
                                  cache.c[:, t], cache.h[:, t])
        grads_x[t], carry_h, carry_c, gWx, gWh, gb = good_lstm_step_backward(dh[:, t] + carry_h, carry_c, step)
        if not carry_cell:
            carry_c = np.zeros_like(carry_c)
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return np.stack(grads_x, axis=1), carry_h, carry_c, dWx, dWh, db


def good_gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    (Wxr, Wxz, Wxn), (Whr, Whz, Whn), (bxr, bxz, bxn), (bhr, bhz, bhn) = (
        blocks(Wx, 3), blocks(Wh, 3), blocks(bx, 3), blocks(bh, 3))
    r = sig(x @ Wxr + bxr + h_prev @ Whr + bhr)
    z = sig(x @ Wxz + bxz + h_prev @ Whz + bhz)
    n = np.tanh(x @ Wxn + bxn + r * (h_prev @ Whn + bhn))
    return n + z * (h_prev - n), ("r", r, "z", z)


def good_gru_forward(x, h0, Wx, Wh, bx, bh):
    h, states = h0, []
    for t in range(x.shape[1]):
        h, _ = good_gru_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        states.append(h)
    return np.stack(states, axis=1), ()


def good_gru_step_backward(dh_next, cache):
    r, z, n, hn = cache.r, cache.z, cache.n, cache.hn
    d_an = dh_next * (1.0 - z) * (1.0 - n * n)
    d_az = dh_next * (cache.h_prev - n) * z * (1.0 - z)
    d_ar = d_an * hn * r * (1.0 - r)
    from_x = np.hstack([d_ar, d_az, d_an])
    from_h = np.hstack([d_ar, d_az, d_an * r])
    return (np.einsum("ng,dg->nd", from_x, cache.Wx), np.einsum("ng,kg->nk", from_h, cache.Wh) + z * dh_next,
            np.einsum("nd,ng->dg", cache.x, from_x), np.einsum("nk,ng->kg", cache.h_prev, from_h),
            from_x.sum(axis=0), from_h.sum(axis=0))


def good_gru_backward(dh, cache):
    T = dh.shape[1]
    grads_x = [None] * T
    totals = [0.0, 0.0, 0.0, 0.0]
    carry = np.zeros(cache.h0.shape)
    for t in reversed(range(T)):
        step = gru.GRUStepCache(cache.x[:, t], cache.h0 if t == 0 else cache.h[:, t - 1], cache.Wx, cache.Wh,
                                cache.r[:, t], cache.z[:, t], cache.n[:, t], cache.hn[:, t], cache.h[:, t])
        grads_x[t], carry, *params = good_gru_step_backward(dh[:, t] + carry, step)
        totals = [a + b for a, b in zip(totals, params)]
    return (np.stack(grads_x, axis=1), carry, *totals)


# name -> (check, the package's reference, the correct student function)
CHECKS = {
    "lstm_step_forward": (grading.check_lstm_step_forward, lstm.lstm_step_forward, good_lstm_step_forward),
    "lstm_forward": (grading.check_lstm_forward, lstm.lstm_forward, good_lstm_forward),
    "lstm_step_backward": (grading.check_lstm_step_backward, lstm.lstm_step_backward, good_lstm_step_backward),
    "lstm_backward": (grading.check_lstm_backward, lstm.lstm_backward, good_lstm_backward),
    "gru_step_forward": (grading.check_gru_step_forward, gru.gru_step_forward, good_gru_step_forward),
    "gru_forward": (grading.check_gru_forward, gru.gru_forward, good_gru_forward),
    "gru_step_backward": (grading.check_gru_step_backward, gru.gru_step_backward, good_gru_step_backward),
    "gru_backward": (grading.check_gru_backward, gru.gru_backward, good_gru_backward),
}


def failure(check, fn, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(fn, **kwargs)
    return str(info.value)


def assert_graded_failure(check, fn, name, output, *fragments, **kwargs):
    """The check fails naming the function and the wrong output; a wrong value gets a hint
    about the formula, a failure of another kind (None, shape, dtype) none."""
    message = failure(check, fn, **kwargs)
    assert name in message, message
    assert f"output {output}" in message, message
    if "is wrong: relative error" in message:
        assert "Hint" in message, message
    if any(kind in message for kind in ("has shape", "is None", "return real numbers", "not an array")):
        assert "Hint" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# ============================================================================
# What every check does
# ============================================================================

@pytest.mark.parametrize("name", CHECKS)
def test_correct_implementation_passes(name):
    check, _, good = CHECKS[name]
    assert check(good) is None
    assert check(good, seed=3) is None
    sizes = ((2, 3, 3), (1, 1, 1)) if "step" in name else ((3, 6, 2, 3), (1, 1, 1, 1))
    assert check(good, seed=7, sizes=sizes) is None


@pytest.mark.parametrize("name", CHECKS)
def test_reference_is_refused(name):
    check, reference, _ = CHECKS[name]
    message = failure(check, reference)
    assert "reference" in message and name in message, message


@pytest.mark.parametrize("name", CHECKS)
def test_wrapper_of_reference_is_refused(name):
    check, reference, _ = CHECKS[name]

    def wrapper(*args, **kwargs):
        return reference(*args, **kwargs)

    message = failure(check, wrapper)
    assert "calls the reference implementation" in message, message
    assert f"{reference.__module__}.{reference.__name__}" in message, message


def test_sequence_built_on_the_reference_step_is_refused():
    def lstm_forward(x, h0, Wx, Wh, b, c0=None):
        h, c, states = h0, np.zeros_like(h0) if c0 is None else c0, []
        for t in range(x.shape[1]):
            h, c, _ = lstm.lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
            states.append(h)
        return np.stack(states, axis=1), None

    assert "rnncourse.lstm.lstm_step_forward" in failure(grading.check_lstm_forward, lstm_forward)


@pytest.mark.parametrize("name", CHECKS)
def test_not_implemented_propagates(name):
    check, _, _ = CHECKS[name]

    def released(*args, **kwargs):
        raise NotImplementedError("write this function")

    profile = sys.getprofile()
    with pytest.raises(NotImplementedError, match="write this function"):
        check(released)
    assert sys.getprofile() is profile


@pytest.mark.parametrize("name", CHECKS)
def test_cases_are_picklable_and_cover_the_edges(name):
    cases = grading.CASES[f"check_{name}"]()
    assert all(case.function == name for case in cases)
    restored = pickle.loads(pickle.dumps([(case.args, case.kwargs) for case in cases]))
    assert len(restored) == len(cases)
    labels = " | ".join(case.label for case in cases)
    for edge in ("N=1", "D=1", "H=1") + (() if "step" in name else ("T=1",)):
        assert edge in labels, (edge, labels)


def test_checks_are_registered_for_the_autograder():
    for name in CHECKS:
        assert grading.CASES[f"check_{name}"] is getattr(grading, f"{name}_cases")
        assert getattr(grading, f"check_{name}") is not None
    for reference in (r for _, r, _ in CHECKS.values()):
        assert reference in grading.REFERENCE_FUNCTIONS


# ============================================================================
# Writing into an input is refused
# ============================================================================

def mutating_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    h, c, cache = good_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    c_prev[...] = c  # "update the cell"
    return h, c, cache


def mutating_lstm_forward(x, h0, Wx, Wh, b, c0=None):
    h_all = np.zeros((x.shape[0], x.shape[1], h0.shape[1]))
    c = np.zeros(h0.shape) if c0 is None else c0
    h = h0
    for t in range(x.shape[1]):
        h_new, c_new, _ = good_lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        h[...], c = h_new, c_new  # writes into h0
        h_all[:, t] = h
    return h_all, None


def mutating_lstm_step_backward(dh_next, dc_next, cache):
    tc = np.tanh(cache.c_next)
    dc_next += dh_next * cache.o * (1 - tc**2)  # accumulates into the caller's dc_next
    return good_lstm_step_backward(dh_next, dc_next - dh_next * cache.o * (1 - tc**2), cache)


def mutating_lstm_backward(dh, cache):
    grads = good_lstm_backward(dh, cache)
    dh[:, 1:] = 0.0  # "clears the upstream gradient it has used"
    return grads


def mutating_gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    h, cache = good_gru_step_forward(x, h_prev, Wx, Wh, bx, bh)
    h_prev[:] = h  # "update the state"
    return h, cache


def mutating_gru_forward(x, h0, Wx, Wh, bx, bh):
    Wx *= 1.0001  # "regularise" in place
    return good_gru_forward(x, h0, Wx, Wh, bx, bh)


def mutating_gru_step_backward(dh_next, cache):
    cache.z[...] = 1.0 - cache.z  # rewrites the cache: (1 - z) is what dn needs
    grads = good_gru_step_backward(dh_next, cache._replace(z=1.0 - cache.z))
    return grads


def mutating_gru_backward(dh, cache):
    dh[:, -1] *= 2.0  # doubles the last step's gradient in the caller's dh...
    return good_gru_backward(dh * np.array([1.0] * (dh.shape[1] - 1) + [0.5])[None, :, None], cache)  # ...undone here


MUTATING = {
    "lstm_step_forward": mutating_lstm_step_forward, "lstm_forward": mutating_lstm_forward,
    "lstm_step_backward": mutating_lstm_step_backward, "lstm_backward": mutating_lstm_backward,
    "gru_step_forward": mutating_gru_step_forward, "gru_forward": mutating_gru_forward,
    "gru_step_backward": mutating_gru_step_backward, "gru_backward": mutating_gru_backward,
}


@pytest.mark.parametrize("name", CHECKS)
def test_mutating_input_is_refused(name):
    check, _, _ = CHECKS[name]
    message = failure(check, MUTATING[name])
    assert name in message and "modified one of its input arrays in place" in message, message


# ============================================================================
# Realistic bugs: LSTM
# ============================================================================

def _swap_blocks(W, first, second, count):
    parts = blocks(W, count)
    parts[first], parts[second] = parts[second], parts[first]
    return np.concatenate(parts, axis=-1)


def test_lstm_step_forward_bugs():
    check = grading.check_lstm_step_forward

    def gates_f_i(x, h_prev, c_prev, Wx, Wh, b):  # reads the gates in the order f, i, g, o
        return good_lstm_step_forward(x, h_prev, c_prev, *(_swap_blocks(W, 0, 1, 4) for W in (Wx, Wh, b)))

    def h_from_c_prev(x, h_prev, c_prev, Wx, Wh, b):
        _, c_next, cache = good_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        o = cache["gates"][3]
        return o * np.tanh(c_prev), c_next, cache

    def tanh_output_gate(x, h_prev, c_prev, Wx, Wh, b):  # o = tanh instead of sigmoid
        H = h_prev.shape[1]
        h, c, cache = good_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        a_o = x @ Wx[:, 3 * H:] + h_prev @ Wh[:, 3 * H:] + b[3 * H:]
        return np.tanh(a_o) * np.tanh(c), c, cache

    message = assert_graded_failure(check, gates_f_i, "lstm_step_forward", "c_next", "relative error", "i, f, g, o")
    assert "output h_next" in message
    message = assert_graded_failure(check, h_from_c_prev, "lstm_step_forward", "h_next", "NEW cell state")
    assert "output c_next" not in message  # c_next is right
    assert_graded_failure(check, tanh_output_gate, "lstm_step_forward", "h_next", "N=3, D=4, H=5")


def test_lstm_step_forward_wrong_return_values():
    def two_values(x, h_prev, c_prev, Wx, Wh, b):
        return good_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)[:2]

    message = failure(grading.check_lstm_step_forward, two_values)
    assert "must return 3 values (h_next, c_next, cache)" in message, message


def test_lstm_forward_bugs():
    check = grading.check_lstm_forward

    def ignores_c0(x, h0, Wx, Wh, b, c0=None):
        return good_lstm_forward(x, h0, Wx, Wh, b)

    def cell_not_carried(x, h0, Wx, Wh, b, c0=None):
        c_start = np.zeros(h0.shape) if c0 is None else c0
        h, states = h0, []
        for t in range(x.shape[1]):
            h, _, _ = good_lstm_step_forward(x[:, t], h, c_start, Wx, Wh, b)  # the cell restarts each step
            states.append(h)
        return np.stack(states, axis=1), None

    def float32(x, h0, Wx, Wh, b, c0=None):
        h, cache = good_lstm_forward(x, h0, Wx, Wh, b, c0)
        return h.astype(np.float32), cache

    assert_graded_failure(check, ignores_c0, "lstm_forward", "h", "c0 given", "start the cell state from it")
    assert_graded_failure(check, cell_not_carried, "lstm_forward", "h", "The first wrong time step is t=1",
                          "Carry both states")
    assert check(float32) is None  # right values kept in float32 earn the point


def test_lstm_step_backward_bugs():
    check = grading.check_lstm_step_backward

    def dc_only_from_next_step(dh_next, dc_next, cache):  # forgets the path through h_next = o tanh(c_next)
        return good_lstm_step_backward(dh_next, dc_next - dh_next * cache.o * (1 - np.tanh(cache.c_next) ** 2),
                                       cache)

    def no_bias_gradient(dh_next, dc_next, cache):
        grads = good_lstm_step_backward(dh_next, dc_next, cache)
        return (*grads[:5], np.zeros(cache.Wh.shape[1]))

    def dc_prev_without_f(dh_next, dc_next, cache):
        grads = list(good_lstm_step_backward(dh_next, dc_next, cache))
        grads[2] = grads[2] / cache.f
        return tuple(grads)

    message = assert_graded_failure(check, dc_only_from_next_step, "lstm_step_backward", "dc_prev",
                                    "numeric gradient disagrees")
    assert "output dWx" in message and "check da" in message  # several outputs: the da hint
    message = assert_graded_failure(check, no_bias_gradient, "lstm_step_backward", "db", "da.sum(axis=0)")
    assert "output dWx" not in message
    assert_graded_failure(check, dc_prev_without_f, "lstm_step_backward", "dc_prev", "dc_prev = dc * f")


def test_lstm_backward_bugs():
    check = grading.check_lstm_backward

    def cell_gradient_not_carried(dh, cache):
        return good_lstm_backward(dh, cache, carry_cell=False)

    def no_flow_from_next_step(dh, cache):
        T = dh.shape[1]
        outs = [good_lstm_backward(dh[:, t:t + 1], cache_slice(cache, t)) for t in range(T)]  # steps alone
        return (np.concatenate([o[0] for o in outs], axis=1), outs[0][1], outs[0][2],
                sum(o[3] for o in outs), sum(o[4] for o in outs), sum(o[5] for o in outs))

    def dWh_last_step_only(dh, cache):
        grads = list(good_lstm_backward(dh, cache))
        grads[4] = good_lstm_backward(dh[:, -1:], cache_slice(cache, dh.shape[1] - 1))[4]
        return tuple(grads)

    assert_graded_failure(check, cell_gradient_not_carried, "lstm_backward", "dc0", "dc_next = the dc_prev")
    assert_graded_failure(check, no_flow_from_next_step, "lstm_backward", "dh0", "Going backwards")
    assert_graded_failure(check, dWh_last_step_only, "lstm_backward", "dWh", "sum of the dWh of all steps",
                          sizes=((2, 5, 3, 4),))


def cache_slice(cache, t):
    """The LSTMCache of the one-step sequence starting at step t."""
    h0 = cache.h0 if t == 0 else cache.h[:, t - 1]
    c0 = cache.c0 if t == 0 else cache.c[:, t - 1]
    part = slice(t, t + 1)
    return lstm.LSTMCache(cache.x[:, part], h0, c0, cache.Wx, cache.Wh, cache.i[:, part], cache.f[:, part],
                          cache.g[:, part], cache.o[:, part], cache.c[:, part], cache.h[:, part])


# ============================================================================
# Realistic bugs: GRU
# ============================================================================

def test_gru_step_forward_bugs():
    check = grading.check_gru_step_forward

    def z_on_the_candidate(x, h_prev, Wx, Wh, bx, bh):  # h' = z n + (1 - z) h
        H = h_prev.shape[1]
        z = sig(x @ Wx[:, H:2 * H] + bx[H:2 * H] + h_prev @ Wh[:, H:2 * H] + bh[H:2 * H])
        return z * _candidate(x, h_prev, Wx, Wh, bx, bh) + (1 - z) * h_prev, None

    def bhn_outside_r(x, h_prev, Wx, Wh, bx, bh):
        H = h_prev.shape[1]
        return good_gru_step_forward(x, h_prev, Wx, Wh, bx + np.concatenate([0 * bh[:2 * H], bh[2 * H:]]),
                                     np.concatenate([bh[:2 * H], 0 * bh[2 * H:]]))

    def textbook_reset(x, h_prev, Wx, Wh, bx, bh):  # n = tanh(x Wx_n + bx_n + (r h) Wh_n + bh_n)
        H = h_prev.shape[1]
        r = sig(x @ Wx[:, :H] + bx[:H] + h_prev @ Wh[:, :H] + bh[:H])
        z = sig(x @ Wx[:, H:2 * H] + bx[H:2 * H] + h_prev @ Wh[:, H:2 * H] + bh[H:2 * H])
        n = np.tanh(x @ Wx[:, 2 * H:] + bx[2 * H:] + (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:])
        return (1 - z) * n + z * h_prev, None

    assert_graded_failure(check, z_on_the_candidate, "gru_step_forward", "h_next", "(1 - z) * n + z * h_prev")
    assert_graded_failure(check, bhn_outside_r, "gru_step_forward", "h_next", "bh_n is inside the product")
    assert_graded_failure(check, textbook_reset, "gru_step_forward", "h_next", "relative error")


def _candidate(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[1]
    r = sig(x @ Wx[:, :H] + bx[:H] + h_prev @ Wh[:, :H] + bh[:H])
    return np.tanh(x @ Wx[:, 2 * H:] + bx[2 * H:] + r * (h_prev @ Wh[:, 2 * H:] + bh[2 * H:]))


def test_gru_forward_bugs():
    check = grading.check_gru_forward

    def state_not_carried(x, h0, Wx, Wh, bx, bh):
        states = [good_gru_step_forward(x[:, t], h0, Wx, Wh, bx, bh)[0] for t in range(x.shape[1])]  # always from h0
        return np.stack(states, axis=1), None

    def gates_z_r(x, h0, Wx, Wh, bx, bh):  # reads the blocks as z, r, n
        return good_gru_forward(x, h0, *(_swap_blocks(W, 0, 1, 3) for W in (Wx, Wh, bx, bh)))

    def time_major_output(x, h0, Wx, Wh, bx, bh):
        h, cache = good_gru_forward(x, h0, Wx, Wh, bx, bh)
        return h.transpose(1, 0, 2), cache

    assert_graded_failure(check, state_not_carried, "gru_forward", "h", "The first wrong time step is t=1")
    assert_graded_failure(check, gates_z_r, "gru_forward", "h", "blocks r, z, n")
    assert_graded_failure(check, time_major_output, "gru_forward", "h", "has shape (5, 2, 4), expected (2, 5, 4)")


def test_gru_step_backward_bugs():
    check = grading.check_gru_step_backward

    def dbh_without_r(dh_next, cache):
        grads = list(good_gru_step_backward(dh_next, cache))
        H = cache.r.shape[1]
        grads[5] = np.concatenate([grads[5][:2 * H], grads[4][2 * H:]])  # da_n.sum() for the n block
        return tuple(grads)

    def no_direct_path(dh_next, cache):
        grads = list(good_gru_step_backward(dh_next, cache))
        grads[1] = grads[1] - cache.z * dh_next
        return tuple(grads)

    def dz_sign(dh_next, cache):  # dz = dh' (n - h_prev)
        return good_gru_step_backward(dh_next, cache._replace(h_prev=2 * cache.n - cache.h_prev))

    message = assert_graded_failure(check, dbh_without_r, "gru_step_backward", "dbh", "(da_n * r).sum(axis=0)")
    assert "output dbx" not in message and "output dWh" not in message
    assert_graded_failure(check, no_direct_path, "gru_step_backward", "dh_prev", "dh_next * z directly",
                          "numeric gradient disagrees")
    assert_graded_failure(check, dz_sign, "gru_step_backward", "dbx", "check the gate gradients")


def test_gru_backward_bugs():
    check = grading.check_gru_backward

    def no_flow(dh, cache):
        T = dh.shape[1]
        outs = []
        for t in range(T):
            part = slice(t, t + 1)
            h0 = cache.h0 if t == 0 else cache.h[:, t - 1]
            one = gru.GRUCache(cache.x[:, part], h0, cache.Wx, cache.Wh, cache.r[:, part], cache.z[:, part],
                               cache.n[:, part], cache.hn[:, part], cache.h[:, part])
            outs.append(good_gru_backward(dh[:, part], one))
        return (np.concatenate([o[0] for o in outs], axis=1), outs[0][1],
                *(sum(o[k] for o in outs) for k in range(2, 6)))

    def dbh_overwritten(dh, cache):
        grads = list(good_gru_backward(dh, cache))
        last = good_gru_backward(dh[:, -1:], gru.GRUCache(
            cache.x[:, -1:], cache.h[:, -2] if dh.shape[1] > 1 else cache.h0, cache.Wx, cache.Wh,
            cache.r[:, -1:], cache.z[:, -1:], cache.n[:, -1:], cache.hn[:, -1:], cache.h[:, -1:]))
        grads[5] = last[5]  # dbh = dbh_t instead of +=
        return tuple(grads)

    assert_graded_failure(check, no_flow, "gru_backward", "dh0", "the dh_prev that step t+1")
    assert_graded_failure(check, dbh_overwritten, "gru_backward", "dbh", "sum of the dbh of all steps",
                          sizes=((2, 5, 3, 4),))


# ============================================================================
# Messages claim only what was measured
# ============================================================================

def test_gated_numeric_opinion_only_when_measured():
    def dWh_transposed(dh_next, cache):  # a shape failure: no numeric gradient is computed
        dx, dh_prev, dWx, dWh, dbx, dbh = good_gru_step_backward(dh_next, cache)
        return dx, dh_prev, dWx, dWh.T, dbx, dbh

    message = failure(grading.check_gru_step_backward, dWh_transposed, sizes=[(3, 4, 5)])
    assert "output dWh has shape (15, 5), expected (5, 15)." in message, message
    assert "numeric gradient" not in message and "Hint" not in message, message

    def slightly_off(dh_next, dc_next, cache):  # off by 5e-7 relative: the numeric gradient agrees with it
        grads = list(good_lstm_step_backward(dh_next, dc_next, cache))
        grads[3] = grads[3] * (1 + 1e-6)
        return tuple(grads)

    message = failure(grading.check_lstm_step_backward, slightly_off, sizes=[(3, 4, 5)])
    assert "output dWx is wrong" in message and "The numeric gradient is close to it" in message, message
    assert "disagrees" not in message, message

    def db_zero(dh_next, dc_next, cache):
        grads = list(good_lstm_step_backward(dh_next, dc_next, cache))
        grads[5] = np.zeros_like(grads[5])
        return tuple(grads)

    message = failure(grading.check_lstm_step_backward, db_zero, sizes=[(3, 4, 5)])
    assert "output db is wrong" in message and "The numeric gradient disagrees with it too" in message, message
