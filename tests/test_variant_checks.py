"""Tests of rnncourse.grading's assignment 5 checks (embedding, temporal affine, masked loss,
last state by length, bidirectional RNN, additive attention, greedy decoding).

For every check: the reference's own outputs pass every case; a correct implementation written
in this file (not the package's) passes; the package's reference and a wrapper around it are
refused; a function that writes into its input is refused; every case's arguments travel over
the sandbox's wire protocol and a correct result judged after the trip back passes; realistic
bugs fail with a message that names the function and the wrong output, gives a hint, and says
what the wrong answer equals only when that was measured.
"""
import pickle
import sys

import numpy as np
import pytest

from rnncourse import grading, layers, models
from rnncourse.autograde.sandboxed import protocol
from rnncourse.grading import variant_checks

# ============================================================================
# Correct student implementations, independent of the package
# ============================================================================


def good_embedding_forward(tokens, W):
    N, T = tokens.shape
    out = np.empty((N, T, W.shape[1]))
    for n in range(N):
        for t in range(T):
            out[n, t] = W[tokens[n, t]]
    return out


def good_embedding_backward(dout, tokens, V):
    onehot = (tokens[..., None] == np.arange(V)).astype(float)  # (N, T, V)
    return np.einsum("ntv,ntd->vd", onehot, dout)


def good_temporal_affine_forward(h, W, b):
    return np.einsum("nth,hm->ntm", h, W) + b


def good_temporal_affine_backward(dout, h, W):
    return (np.einsum("ntm,hm->nth", dout, W), np.einsum("nth,ntm->hm", h, dout), np.einsum("ntm->m", dout))


def good_temporal_softmax_loss(scores, targets, mask):
    N, T, V = scores.shape
    count = int(mask.sum())
    loss, dscores = 0.0, np.zeros((N, T, V))
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            row = scores[n, t] - scores[n, t].max()
            log_total = np.log(np.exp(row).sum())
            loss -= (row[targets[n, t]] - log_total) / count
            dscores[n, t] = np.exp(row - log_total) / count
            dscores[n, t, targets[n, t]] -= 1.0 / count
    return [loss, dscores]  # a list where a tuple is asked: as good


def good_last_state_by_length(h, lengths):
    return np.stack([h[n, length - 1] for n, length in enumerate(lengths)])


def _tanh_rnn(x, Wx, Wh, b):
    state, states = np.zeros(Wh.shape[0]), []
    for x_t in x:
        state = np.tanh(x_t @ Wx + state @ Wh + b)
        states.append(state)
    return np.array(states).reshape(len(x), Wh.shape[0])


def good_bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
    N, T, _ = x.shape
    H = Wh_f.shape[0]
    h = np.zeros((N, T, 2 * H))
    for n, length in enumerate(lengths):  # one sequence at a time, without its padding
        h[n, :length, :H] = _tanh_rnn(x[n, :length], Wx_f, Wh_f, b_f)
        h[n, :length, H:] = _tanh_rnn(x[n, :length][::-1], Wx_b, Wh_b, b_b)[::-1]
    return h


def _masked_weights(query, keys, mask, Wq, Wk, v):
    u = np.tanh(np.einsum("nq,qa->na", query, Wq)[:, None] + np.einsum("nsk,ka->nsa", keys, Wk))
    scores = np.einsum("nsa,a->ns", u, v)
    top = np.max(np.where(mask, scores, -np.inf), axis=1, keepdims=True)
    exps = np.where(mask, np.exp(np.minimum(scores - top, 0.0)), 0.0)
    return u, exps / exps.sum(axis=1, keepdims=True)


def good_additive_attention_forward(query, keys, mask, Wq, Wk, v):
    _, weights = _masked_weights(query, keys, mask, Wq, Wk, v)
    return np.einsum("ns,nsk->nk", weights, keys), weights


def good_additive_attention_backward(dcontext, query, keys, mask, Wq, Wk, v):
    u, weights = _masked_weights(query, keys, mask, Wq, Wk, v)
    dweights = np.einsum("nsk,nk->ns", keys, dcontext)
    dscores = weights * dweights - weights * np.einsum("ns,ns->n", weights, dweights)[:, None]
    dpre = np.einsum("ns,a,nsa->nsa", dscores, v, 1.0 - u * u)
    return (np.einsum("nsa,qa->nq", dpre, Wq), np.einsum("ns,nk->nsk", weights, dcontext) + dpre @ Wk.T,
            np.einsum("nq,nsa->qa", query, dpre), np.einsum("nsk,nsa->ka", keys, dpre),
            np.einsum("ns,nsa->a", dscores, u))


def good_rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
    out = []
    for n in range(h0.shape[0]):  # one example at a time
        h, token, row = h0[n], start_token, []
        for _ in range(max_length):
            h = np.tanh(W_embed[token] @ Wx + h @ Wh + b)
            token = int(np.argmax(h @ W_out + b_out))
            row.append(token)
        out.append(row)
    return np.array(out)


# name -> (check, the package's reference, the correct student function)
CHECKS = {
    "embedding_forward": (grading.check_embedding_forward, layers.embedding_forward, good_embedding_forward),
    "embedding_backward": (grading.check_embedding_backward, layers.embedding_backward, good_embedding_backward),
    "temporal_affine_forward": (grading.check_temporal_affine_forward, layers.temporal_affine_forward,
                                good_temporal_affine_forward),
    "temporal_affine_backward": (grading.check_temporal_affine_backward, layers.temporal_affine_backward,
                                 good_temporal_affine_backward),
    "temporal_softmax_loss": (grading.check_temporal_softmax_loss, layers.temporal_softmax_loss,
                              good_temporal_softmax_loss),
    "last_state_by_length": (grading.check_last_state_by_length, layers.last_state_by_length,
                             good_last_state_by_length),
    "bidirectional_rnn_forward": (grading.check_bidirectional_rnn_forward, layers.bidirectional_forward,
                                  good_bidirectional_rnn_forward),
    "additive_attention_forward": (grading.check_additive_attention_forward, layers.additive_attention_forward,
                                   good_additive_attention_forward),
    "additive_attention_backward": (grading.check_additive_attention_backward, layers.additive_attention_backward,
                                    good_additive_attention_backward),
    "rnn_greedy_decode": (grading.check_rnn_greedy_decode, models.rnn_greedy_decode, good_rnn_greedy_decode),
}


def _params(Wx, Wh, b):
    return {"Wx": Wx, "Wh": Wh, "b": b}


# What the reference computes for a case, in the shape the assignment asks for (the layers'
# forward functions return a cache too, and their backward functions take one).
def _reference_output(name, args):
    if name == "embedding_forward":
        return layers.embedding_forward(*args)[0]
    if name == "embedding_backward":
        dout, tokens, V = args
        return layers.embedding_backward(dout, layers.embedding_forward(tokens, np.zeros((V, dout.shape[2])))[1])
    if name == "temporal_affine_forward":
        return layers.temporal_affine_forward(*args)[0]
    if name == "temporal_affine_backward":
        dout, h, W = args
        return layers.temporal_affine_backward(dout, layers.temporal_affine_forward(h, W, np.zeros(W.shape[1]))[1])
    if name == "temporal_softmax_loss":
        return layers.temporal_softmax_loss(*args)
    if name == "last_state_by_length":
        return layers.last_state_by_length(*args)[0]
    if name == "bidirectional_rnn_forward":
        x, lengths, *weights = args
        return layers.bidirectional_forward(x, lengths, _params(*weights[:3]), _params(*weights[3:]))[0]
    if name == "additive_attention_forward":
        return layers.additive_attention_forward(*args)[:2]
    if name == "additive_attention_backward":
        dcontext, *inputs = args
        return layers.additive_attention_backward(dcontext, layers.additive_attention_forward(*inputs)[2])
    return models.rnn_greedy_decode(*args)


def all_cases(name, **kwargs):
    return grading.CASES[f"check_{name}"](**kwargs)


def failure(check, fn, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(fn, **kwargs)
    return str(info.value)


def assert_graded_failure(check, fn, name, output, *fragments, absent=(), **kwargs):
    """The check fails naming the function and the wrong output; a wrong value gets a hint, a
    failure of another kind (None, shape) none; ``fragments`` are in the message, ``absent`` not."""
    message = failure(check, fn, **kwargs)
    assert name in message, message
    assert f"output {output}" in message, message
    if "is wrong" in message:
        assert "Hint" in message, message
    if any(kind in message for kind in ("has shape", "is None", "not an array")):
        assert "Hint" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    for fragment in absent:
        assert fragment not in message, (fragment, message)
    return message


# ============================================================================
# What every check does
# ============================================================================

EXTRA_KWARGS = {"temporal_softmax_loss": ({"scale": 1000.0}, {"pad_target": -1}),
                "additive_attention_forward": ({"scale": 1000.0},), "bidirectional_rnn_forward": ({"full": True},)}


@pytest.mark.parametrize("name", CHECKS)
def test_reference_output_passes_every_case(name):
    for kwargs in ({}, {"seed": 5}, *EXTRA_KWARGS.get(name, ())):
        for case in all_cases(name, **kwargs):
            assert case.judge(case, _reference_output(name, case.args)) is None


@pytest.mark.parametrize("name", CHECKS)
def test_correct_implementation_passes(name):
    check, _, good = CHECKS[name]
    assert check(good) is None
    assert check(good, seed=3) is None
    for kwargs in EXTRA_KWARGS.get(name, ()):
        assert check(good, **kwargs) is None


@pytest.mark.parametrize("name", CHECKS)
def test_reference_is_refused(name):
    check, reference, _ = CHECKS[name]
    message = failure(check, reference)
    assert "reference" in message and name in message, message


@pytest.mark.parametrize("name", CHECKS)
def test_wrapper_of_reference_is_refused(name):
    check, _, _ = CHECKS[name]

    def wrapper(*args):
        return _reference_output(name, args)

    message = failure(check, wrapper)
    assert "calls the reference implementation rnncourse." in message, message


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
def test_cases_travel_over_the_wire_and_cover_the_edges(name):
    """Every argument is an array, a number or a bool that the sandbox protocol sends and rebuilds;
    the correct function's result, sent back as the sandbox sends it, passes the judge."""
    _, _, good = CHECKS[name]
    cases = all_cases(name)
    assert all(case.function == name for case in cases)
    assert len(pickle.loads(pickle.dumps([(case.args, case.kwargs) for case in cases]))) == len(cases)
    for case in cases:
        arrays = {}
        description = protocol.encode_value(tuple(case.args), arrays)
        rebuilt = protocol.decode_value(description, arrays, {})
        assert len(rebuilt) == len(case.args)
        for sent, received in zip(case.args, rebuilt):
            np.testing.assert_array_equal(np.asarray(sent), np.asarray(received))
        returned = protocol.decode_result(protocol.describe_result(good(*rebuilt)), grading.Unreadable)
        assert case.judge(case, returned) is None
    labels = " | ".join(case.label for case in cases)
    assert "N=1" in labels, labels


def test_checks_are_registered_for_the_autograder():
    for name in CHECKS:
        assert grading.CASES[f"check_{name}"] is getattr(grading, f"{name}_cases")
        assert getattr(grading, f"check_{name}") is getattr(variant_checks, f"check_{name}")
    for reference in (r for _, r, _ in CHECKS.values()):
        assert reference in grading.REFERENCE_FUNCTIONS


# ============================================================================
# The cases have the power to find what they are for
# ============================================================================

def test_cases_have_padding_repeats_and_large_scores():
    loss_case = all_cases("temporal_softmax_loss")[0]
    assert not loss_case.args[2].all()  # the main case has padded positions
    assert all(case.args[2].all() for case in all_cases("temporal_softmax_loss")[1:3])  # N=1, T=1: no padding
    tokens = all_cases("embedding_backward")[0].args[1]
    assert np.bincount(tokens.ravel()).max() > 1  # a token occurs more than once
    lengths = all_cases("bidirectional_rnn_forward")[0].args[1]
    assert lengths.min() < lengths.max() == all_cases("bidirectional_rnn_forward")[0].args[0].shape[1]
    assert all(case.args[1].min() == case.args[0].shape[1] for case in all_cases("bidirectional_rnn_forward",
                                                                                     full=True))
    big = all_cases("temporal_softmax_loss", scale=1000.0)[0].args[0]
    assert np.abs(big).max() > 710  # np.exp overflows without the max shift
    attention = all_cases("additive_attention_forward", scale=1000.0)[0].args
    assert np.abs(variant_checks._attention_scores(*attention)).max() > 710


def test_greedy_decoding_cases_have_no_near_ties():
    """The argmax of every step wins by a margin far above rounding, so any correct order of
    operations decodes the same tokens."""
    for kwargs in ({}, {"seed": 61, "sizes": [(4, 8, 6, 3, 5), (1, 1, 1, 1, 1), (2, 5, 9, 2, 4)]}):
        for case in all_cases("rnn_greedy_decode", **kwargs):
            h0, W_embed, Wx, Wh, b, W_out, b_out, start, L = case.args
            if W_out.shape[1] == 1:
                continue
            h, token = h0, np.full(h0.shape[0], start)
            for _ in range(L):
                h = np.tanh(W_embed[token] @ Wx + h @ Wh + b)
                scores = np.sort(h @ W_out + b_out, axis=1)
                assert (scores[:, -1] - scores[:, -2]).min() > 1e-6, case.label
                token = (h @ W_out + b_out).argmax(axis=1)


# ============================================================================
# Writing into an input is refused
# ============================================================================

def mutating_embedding_backward(dout, tokens, V):
    tokens[tokens < 0] = 0  # "sanitises" the caller's tokens
    dout *= 1.0
    dW = good_embedding_backward(dout, tokens, V)
    dout[0, 0] += 1.0  # writes into dout
    return dW


def mutating_temporal_softmax_loss(scores, targets, mask):
    scores -= scores.max(axis=2, keepdims=True)  # the max shift, in place
    return good_temporal_softmax_loss(scores, targets, mask)


def mutating_bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
    x[~(np.arange(x.shape[1]) < lengths[:, None])] = 0.0  # zeroes the padding of the caller's x
    return good_bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b)


def mutating_additive_attention_forward(query, keys, mask, Wq, Wk, v):
    mask[:, -1] = True  # "every sequence has an end"
    return good_additive_attention_forward(query, keys, mask, Wq, Wk, v)


@pytest.mark.parametrize("name, fn", [
    ("embedding_backward", mutating_embedding_backward), ("temporal_softmax_loss", mutating_temporal_softmax_loss),
    ("bidirectional_rnn_forward", mutating_bidirectional_rnn_forward),
    ("additive_attention_forward", mutating_additive_attention_forward)])
def test_mutating_input_is_refused(name, fn):
    check = CHECKS[name][0]
    message = failure(check, fn)
    assert name in message and "modified one of its input arrays in place" in message, message


# ============================================================================
# Realistic bugs, and messages that claim only what was measured
# ============================================================================

def test_embedding_bugs():
    def fancy_index(dout, tokens, V):
        dW = np.zeros((V, dout.shape[2]))
        dW[tokens] += dout
        return dW

    assert_graded_failure(grading.check_embedding_backward, fancy_index, "embedding_backward", "dW",
                          "each of which occurs more than once", "np.add.at", "numeric gradient disagrees")

    def first_row_wrong(dout, tokens, V):  # wrong on a row whatever the repeats: no claim about repeats
        dW = good_embedding_backward(dout, tokens, V)
        once = np.flatnonzero(np.bincount(tokens.ravel(), minlength=V) == 1)
        dW[once[0]] *= 2.0  # a token that occurs once
        return dW

    assert_graded_failure(grading.check_embedding_backward, first_row_wrong, "embedding_backward", "dW",
                          absent=("occurs more than once",), sizes=[(2, 5, 9, 3)], seed=4)

    def transposed(tokens, W):
        return W[tokens.T]

    assert_graded_failure(grading.check_embedding_forward, transposed, "embedding_forward", "out",
                          "has shape (5, 2, 3), expected (2, 5, 3)", sizes=[(2, 5, 4, 3)])


def test_forward_returning_a_cache_is_told_to_return_the_output_alone():
    def with_cache(h, W, b):
        return h @ W + b, {"h": h, "W": W}

    message = failure(grading.check_temporal_affine_forward, with_cache)
    assert "output out is a tuple, not an array." in message, message
    assert "returns out alone, without a cache" in message and "relative error" not in message, message


def test_temporal_affine_bugs():
    def db_averaged(dout, h, W):
        dh, dW, db = good_temporal_affine_backward(dout, h, W)
        return dh, dW, db / (dout.shape[0] * dout.shape[1])

    assert_graded_failure(grading.check_temporal_affine_backward, db_averaged, "temporal_affine_backward", "db",
                          "shared by every example and every time step", "numeric gradient disagrees")

    def last_step_only(h, W, b):
        return np.repeat((h[:, -1] @ W + b)[:, None], h.shape[1], axis=1)

    assert_graded_failure(grading.check_temporal_affine_forward, last_step_only, "temporal_affine_forward", "out",
                          "at every time step")


def test_masked_loss_bugs():
    check = grading.check_temporal_softmax_loss

    def mask_ignored(scores, targets, mask):
        return good_temporal_softmax_loss(scores, targets, np.ones_like(mask))

    assert_graded_failure(check, mask_ignored, "temporal_softmax_loss", "loss",
                          "equals the mean of -log p over every position", "not 0 at the padded positions")
    assert_graded_failure(check, mask_ignored, "temporal_softmax_loss", "loss", "the mask is ignored",
                          pad_target=-1)
    assert check(mask_ignored, sizes=[(1, 5, 4), (3, 1, 4)]) is None  # without padding the mask changes nothing

    def mean_over_all(scores, targets, mask):
        loss, dscores = good_temporal_softmax_loss(scores, targets, mask)
        return loss * mask.sum() / mask.size, dscores * mask.sum() / mask.size

    assert_graded_failure(check, mean_over_all, "temporal_softmax_loss", "loss",
                          "divided by all N*T = 15 positions", "mask.sum() = 9", absent=("mask is ignored",))

    def sum_not_mean(scores, targets, mask):
        loss, dscores = good_temporal_softmax_loss(scores, targets, mask)
        return loss * mask.sum(), dscores * mask.sum()

    assert_graded_failure(check, sum_not_mean, "temporal_softmax_loss", "loss", "not divided by their number")

    def no_max_shift(scores, targets, mask):
        p = np.exp(scores) / np.exp(scores).sum(axis=2, keepdims=True)
        picked = np.take_along_axis(p, np.where(mask, targets, 0)[..., None], axis=2)[..., 0]
        loss = -(np.log(picked) * mask).sum() / mask.sum()
        return loss, good_temporal_softmax_loss(scores, targets, mask)[1]

    assert check(no_max_shift) is None  # ordinary scores do not overflow
    message = assert_graded_failure(check, no_max_shift, "temporal_softmax_loss", "loss", "contains NaN or inf",
                                    "np.exp overflows float64", "subtract each row's maximum", scale=1000.0)
    assert "output dscores" not in message, message

    def wrong_otherwise(scores, targets, mask):  # a wrong loss that is none of the usual ones
        loss, dscores = good_temporal_softmax_loss(scores, targets, mask)
        return loss + 0.1, dscores

    assert_graded_failure(check, wrong_otherwise, "temporal_softmax_loss", "loss",
                          absent=("Your loss equals", "output dscores"))

    def nan_small_scores(scores, targets, mask):
        loss, dscores = good_temporal_softmax_loss(scores, targets, mask)
        return loss * np.nan, dscores

    assert_graded_failure(check, nan_small_scores, "temporal_softmax_loss", "loss", "does not overflow here",
                          absent=("overflows float64 above",))


def test_last_state_bugs():
    def last_column(h, lengths):
        return h[:, -1]

    assert_graded_failure(grading.check_last_state_by_length, last_column, "last_state_by_length", "last",
                          "equals h[:, -1], the last column of the padded batch", "lengths[n] - 1")

    def off_by_one(h, lengths):
        return h[np.arange(h.shape[0]), np.maximum(lengths - 2, 0)]

    assert_graded_failure(grading.check_last_state_by_length, off_by_one, "last_state_by_length", "last",
                          absent=("h[:, -1], the last column",))


def test_bidirectional_bugs():
    check = grading.check_bidirectional_rnn_forward

    def plain_reversal(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
        h = good_bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b)
        H = Wh_f.shape[0]
        mask = np.arange(x.shape[1]) < lengths[:, None]
        backward = np.stack([_tanh_rnn(row[::-1], Wx_b, Wh_b, b_b)[::-1] for row in x])
        h[..., H:] = backward * mask[..., None]
        return h

    message = assert_graded_failure(check, plain_reversal, "bidirectional_rnn_forward", "h",
                                    "the backward half h[..., H:] is wrong",
                                    "equals the RNN run over each whole padded row reversed",
                                    absent=("forward half", "padded positions it is not 0"))
    assert check(plain_reversal, full=True) is None  # without padding the plain reversal is right

    def padding_kept(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
        h = good_bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b)
        H = Wh_f.shape[0]
        h[..., :H] = np.stack([_tanh_rnn(row, Wx_f, Wh_f, b_f) for row in x])  # padded steps not zeroed
        return h

    assert_graded_failure(check, padding_kept, "bidirectional_rnn_forward", "h",
                          "At the padded positions it is not 0",
                          absent=("is wrong. ", "whole padded row reversed", "the forward half h[..., :H] is"))


def test_attention_forward_bugs():
    check = grading.check_additive_attention_forward

    def wrong_axis(query, keys, mask, Wq, Wk, v):
        u = np.tanh((query @ Wq)[:, None, :] + keys @ Wk)
        scores = np.where(mask, u @ v, -np.inf)
        weights = np.exp(scores - scores.max(axis=0)) / np.exp(scores - scores.max(axis=0)).sum(axis=0)
        return (weights[..., None] * keys).sum(axis=1), weights

    assert_graded_failure(check, wrong_axis, "additive_attention_forward", "weights",
                          "sum to 1 over the batch axis (axis 0), not over the source positions (axis 1)",
                          "start with the weights")

    def mask_ignored(query, keys, mask, Wq, Wk, v):
        return good_additive_attention_forward(query, keys, np.ones_like(mask), Wq, Wk, v)

    assert_graded_failure(check, mask_ignored, "additive_attention_forward", "weights",
                          "not 0 at masked positions", absent=("sum to 1 over the batch", "rows sum to"))

    def no_max_shift(query, keys, mask, Wq, Wk, v):
        u = np.tanh((query @ Wq)[:, None, :] + keys @ Wk)
        exps = np.where(mask, np.exp(u @ v), 0.0)
        weights = exps / exps.sum(axis=1, keepdims=True)
        return (weights[..., None] * keys).sum(axis=1), weights

    assert check(no_max_shift) is None
    assert_graded_failure(check, no_max_shift, "additive_attention_forward", "weights", "contains NaN or inf",
                          "np.exp overflows float64", scale=1000.0)


def test_attention_backward_bugs():
    check = grading.check_additive_attention_backward

    def no_values_path(dcontext, query, keys, mask, Wq, Wk, v):
        dquery, dkeys, dWq, dWk, dv = good_additive_attention_backward(dcontext, query, keys, mask, Wq, Wk, v)
        _, weights = _masked_weights(query, keys, mask, Wq, Wk, v)
        return dquery, dkeys - weights[..., None] * dcontext[:, None, :], dWq, dWk, dv

    assert_graded_failure(check, no_values_path, "additive_attention_backward", "dkeys",
                          "keys are used twice", "numeric gradient disagrees",
                          absent=("output dquery", "output dv"))

    def softmax_gradient_without_sum(dcontext, query, keys, mask, Wq, Wk, v):
        u, weights = _masked_weights(query, keys, mask, Wq, Wk, v)
        dscores = weights * np.einsum("nsk,nk->ns", keys, dcontext)  # the softmax's Jacobian forgotten
        dpre = dscores[..., None] * v * (1 - u**2)
        return (dpre.sum(axis=1) @ Wq.T, weights[..., None] * dcontext[:, None] + dpre @ Wk.T,
                query.T @ dpre.sum(axis=1), np.einsum("nsk,nsa->ka", keys, dpre), (dscores[..., None] * u).sum((0, 1)))

    assert_graded_failure(check, softmax_gradient_without_sum, "additive_attention_backward", "dquery",
                          "check dscores first")


def test_greedy_decoding_bugs():
    check = grading.check_rnn_greedy_decode

    def fed_start_token(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
        return variant_checks._decode_fed_start(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length)

    assert_graded_failure(check, fed_start_token, "rnn_greedy_decode", "tokens",
                          "those of a decoder fed start_token at every step", "the first wrong step is t=")

    def start_token_first(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
        tokens = good_rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length)
        return np.concatenate([np.full((h0.shape[0], 1), start_token), tokens[:, :-1]], axis=1)

    assert_graded_failure(check, start_token_first, "rnn_greedy_decode", "tokens",
                          "shifted by one step, with start_token first", absent=("fed start_token",))

    def argmax_over_batch(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
        tokens = good_rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length)
        tokens[-1, -1] = (tokens[-1, -1] + 1) % W_out.shape[1]
        return tokens

    message = assert_graded_failure(check, argmax_over_batch, "rnn_greedy_decode", "tokens", "wrong at 1 of 18",
                                    "the first wrong step is t=5", absent=("fed start_token", "shifted by one"),
                                    sizes=[(3, 6, 5, 4, 7)])
    assert "relative error" not in message, message

    def as_floats(*args):  # the right tokens as a float array: values are graded
        return good_rnn_greedy_decode(*args).astype(float)

    assert check(as_floats) is None
