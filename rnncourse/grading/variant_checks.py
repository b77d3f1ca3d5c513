"""Checks of assignment 5 (Chapter 5, input-output variants, bidirectional RNNs, attention).

Every function of the assignment takes and returns arrays, integers and booleans only: a
backward function receives the inputs of its forward pass (not a cache), so that each
function is graded on its own and every argument can be sent into the sandboxed grader.
The references are :mod:`rnncourse.layers` and :func:`rnncourse.models.rnn_greedy_decode`;
where the student's signature differs from the layer's (the bidirectional RNN takes its
weights as arrays, not dicts), the check wraps the layer.

Besides the error of each output, a check measures a few things a wrong answer often is
(the loss averaged over every position, the last column of a padded batch, the backward
direction run over the whole padded row, weights normalised over the batch axis, a decoder
fed its start token) and says so only when the student's output is one of them.
"""
import numpy as np

from .. import gradcheck, layers, models, rnn
from .core import (
    TOLERANCE, Case, Problem, _fail_if_any, _unpack, numeric_second_opinion, output_error, problem_kind,
    register_references, run_cases,
)

__all__ = [
    "EMBEDDING_SIZES", "AFFINE_SIZES", "LOSS_SIZES", "LAST_STATE_SIZES", "BIDIRECTIONAL_SIZES",
    "ATTENTION_SIZES", "DECODE_SIZES",
    "padded_lengths",
    "embedding_forward_cases", "embedding_backward_cases", "temporal_affine_forward_cases",
    "temporal_affine_backward_cases", "temporal_softmax_loss_cases", "last_state_by_length_cases",
    "bidirectional_rnn_forward_cases", "additive_attention_forward_cases", "additive_attention_backward_cases",
    "rnn_greedy_decode_cases",
    "check_embedding_forward", "check_embedding_backward", "check_temporal_affine_forward",
    "check_temporal_affine_backward", "check_temporal_softmax_loss", "check_last_state_by_length",
    "check_bidirectional_rnn_forward", "check_additive_attention_forward", "check_additive_attention_backward",
    "check_rnn_greedy_decode",
]

# Sizes: the first is the main case, then N=1 and the other edges (a size of 1 on every axis).
EMBEDDING_SIZES = ((2, 5, 4, 3), (1, 5, 4, 3), (2, 1, 4, 3), (2, 5, 1, 3), (2, 5, 4, 1))  # (N, T, V, D)
AFFINE_SIZES = ((2, 5, 3, 4), (1, 5, 3, 4), (2, 1, 3, 4), (2, 5, 1, 4), (2, 5, 3, 1))  # (N, T, H, M)
LOSS_SIZES = ((3, 5, 4), (1, 5, 4), (3, 1, 4), (3, 5, 1))  # (N, T, V)
LAST_STATE_SIZES = ((3, 5, 4), (1, 5, 4), (3, 1, 4), (3, 5, 1))  # (N, T, H)
BIDIRECTIONAL_SIZES = ((3, 5, 2, 4), (1, 5, 2, 4), (3, 1, 2, 4), (3, 5, 1, 4), (3, 5, 2, 1))  # (N, T, D, H)
ATTENTION_SIZES = ((3, 5, 4, 3, 6), (1, 5, 4, 3, 6), (3, 1, 4, 3, 6), (3, 5, 1, 1, 1))  # (N, S, Hq, Hk, A)
DECODE_SIZES = ((3, 6, 5, 4, 7), (1, 6, 5, 4, 7), (3, 1, 5, 4, 7), (3, 6, 1, 4, 7), (3, 6, 5, 1, 1))  # (N, L, V, D, H)


def _bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
    """The reference with the assignment's signature: h (N, T, 2H) of a tanh bidirectional RNN."""
    return layers.bidirectional_forward(x, lengths, {"Wx": Wx_f, "Wh": Wh_f, "b": b_f},
                                        {"Wx": Wx_b, "Wh": Wh_b, "b": b_b}, cell="rnn")[0]


register_references(
    layers.embedding_forward, layers.embedding_backward, layers.temporal_affine_forward,
    layers.temporal_affine_backward, layers.temporal_softmax_loss, layers.last_state_by_length,
    layers.length_mask, layers.reverse_padded, layers.recurrent_forward, layers.bidirectional_forward,
    layers.additive_attention_forward, layers.additive_attention_backward, models.rnn_greedy_decode,
    _bidirectional_rnn_forward,
)


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------

def padded_lengths(rng, N, T, full=False):
    """Lengths (N,) in [1, T] of a padded batch: the first sequence is T long and, when N > 1
    and T > 1, the last is shorter (so the batch has padding); all T when ``full``."""
    lengths = np.full(N, T) if full else rng.integers(1, T + 1, N)
    lengths[0] = T
    if not full and N > 1 and T > 1:
        lengths[-1] = rng.integers(1, T)
    return lengths


def _lengths_label(lengths):
    return f"lengths={[int(n) for n in lengths]}"


# ----------------------------------------------------------------------------
# Judging
# ----------------------------------------------------------------------------

def _problems(case, got, expected, names):
    return [(k, p) for k in names if (p := output_error(case.function, case.label, k, got[k], expected[k]))]


def _same(got, candidate):
    """True when ``got`` is an array of ``candidate``'s shape within the tolerance of it."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except Exception:
        return False
    return (got.shape == np.shape(candidate) and bool(np.all(np.isfinite(got)))
            and gradcheck.rel_error(got, np.asarray(candidate, dtype=np.float64)) <= TOLERANCE)


def _with_finding(problems, output, finding):
    """Add a measured ``finding`` to the value problem of ``output``."""
    return [(k, p.plus(" " + finding) if k == output and finding and problem_kind(p) == "value" else p)
            for k, p in problems]


def _overflow_hint(largest):
    """What the size of the largest score says about a NaN or inf (measured on the case's inputs)."""
    if largest > 700:
        return (f"the scores of this case reach {largest:.3g} in size, and np.exp overflows float64 above "
                "about 709: subtract each row's maximum before exponentiating (it does not change the softmax).")
    return (f"the scores of this case stay below {largest:.3g} in size, so np.exp does not overflow here; "
            "a NaN comes from 0/0 or inf - inf, such as a softmax over positions that are all masked.")


def _alone(name, output):
    """The hint for a single output returned inside a tuple (as a forward pass with a cache would)."""
    return (f"{name} returns {output} alone, without a cache: in this assignment the backward functions take "
            "the forward pass's inputs instead.")


# ----------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------

def embedding_inputs(seed, N, T, V, D):
    """Seeded tokens (N, T) ints in [0, V) (a token repeated when N*T > 1) and W (V, D)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V, (N, T))
    if N * T > 1:
        tokens[-1, -1] = tokens[0, 0]
    return {"tokens": tokens, "W": rng.standard_normal((V, D))}


def _judge_embedding_forward(case, result):
    expected = layers.embedding_forward(*case.args)[0]
    problem = output_error(case.function, case.label, "out", result, expected)
    _fail_if_any([("out", problem)] if problem else [], {"out": (
        "out[n, t] is the row of W of the token tokens[n, t]; numpy's indexing with an integer array can pick all "
        "N*T rows in one expression, no loop needed (shape (N, T, D))."),
        ("out", "type"): _alone(case.function, "out")})


def embedding_forward_cases(seed=0, sizes=EMBEDDING_SIZES):
    """Cases of ``embedding_forward(tokens, W) -> out`` for (N, T, V, D) in ``sizes``."""
    return [Case("embedding_forward", f"seed={seed}, N={N}, T={T}, V={V}, D={D}",
                 tuple(embedding_inputs(seed, N, T, V, D).values()), {}, _judge_embedding_forward)
            for N, T, V, D in sizes]


def check_embedding_forward(fn, seed=0, sizes=EMBEDDING_SIZES):
    """Check ``fn(tokens, W) -> out (N, T, D)``; sizes: (N, T, V, D) quadruples."""
    run_cases(fn, embedding_forward_cases(seed, sizes))


def _embedding_output(tokens, W):
    return layers.embedding_forward(tokens, W)[0]


def _judge_embedding_backward(case, result):
    dout, tokens, V = case.args
    W = case.context["W"]
    expected = layers.embedding_backward(dout, layers.embedding_forward(tokens, W)[1])
    problems = numeric_second_opinion(
        _problems(case, {"dW": result}, {"dW": expected}, ("dW",)), {"dW": result},
        {"tokens": tokens, "W": W}, _embedding_output, dout)
    if problems and problem_kind(problems[0][1]) == "value":
        got = np.asarray(result, dtype=np.float64)
        wrong = [v for v in range(V) if gradcheck.rel_error(got[v], expected[v]) > TOLERANCE]
        counts = np.bincount(tokens.ravel(), minlength=V)
        if wrong and all(counts[v] > 1 for v in wrong):
            problems = _with_finding(problems, "dW", (
                f"The wrong rows are those of the tokens {wrong}, each of which occurs more than once in tokens; "
                "the rows of the tokens that occur once are right."))
    _fail_if_any(problems, {"dW": (
        "dW[v] is the sum of dout[n, t] over every position where tokens[n, t] == v (zero for a token that does "
        "not occur). `dW[tokens] += dout` adds only one of the rows of a repeated token; np.add.at(dW, tokens, dout) "
        "adds them all.")})


def embedding_backward_cases(seed=0, sizes=EMBEDDING_SIZES):
    """Cases of ``embedding_backward(dout, tokens, V) -> dW`` for (N, T, V, D) in ``sizes``."""
    cases = []
    for N, T, V, D in sizes:
        inputs = embedding_inputs(seed, N, T, V, D)
        dout = np.random.default_rng(seed + 1).standard_normal((N, T, D))
        cases.append(Case("embedding_backward", f"seed={seed}, N={N}, T={T}, V={V}, D={D}",
                          (dout, inputs["tokens"], V), {}, _judge_embedding_backward, {"W": inputs["W"]}))
    return cases


def check_embedding_backward(fn, seed=0, sizes=EMBEDDING_SIZES):
    """Check ``fn(dout, tokens, V) -> dW (V, D)``; sizes: (N, T, V, D) quadruples."""
    run_cases(fn, embedding_backward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# Temporal affine
# ----------------------------------------------------------------------------

def affine_inputs(seed, N, T, H, M):
    """Seeded h (N, T, H), W (H, M), b (M,)."""
    rng = np.random.default_rng(seed)
    return {"h": rng.standard_normal((N, T, H)), "W": rng.standard_normal((H, M)) / np.sqrt(H),
            "b": rng.standard_normal(M)}


def _judge_temporal_affine_forward(case, result):
    expected = layers.temporal_affine_forward(*case.args)[0]
    problem = output_error(case.function, case.label, "out", result, expected)
    _fail_if_any([("out", problem)] if problem else [], {"out": (
        "out[n, t] = h[n, t] @ W + b at every time step; matmul works on the last axis of a 3-D array, so "
        "no loop over n or t is needed (shape (N, T, M))."), ("out", "type"): _alone(case.function, "out")})


def temporal_affine_forward_cases(seed=0, sizes=AFFINE_SIZES):
    """Cases of ``temporal_affine_forward(h, W, b) -> out`` for (N, T, H, M) in ``sizes``."""
    return [Case("temporal_affine_forward", f"seed={seed}, N={N}, T={T}, H={H}, M={M}",
                 tuple(affine_inputs(seed, N, T, H, M).values()), {}, _judge_temporal_affine_forward)
            for N, T, H, M in sizes]


def check_temporal_affine_forward(fn, seed=0, sizes=AFFINE_SIZES):
    """Check ``fn(h, W, b) -> out (N, T, M)``; sizes: (N, T, H, M) quadruples."""
    run_cases(fn, temporal_affine_forward_cases(seed, sizes))


AFFINE_GRADIENTS = ("dh", "dW", "db")


def _affine_output(h, W, b):
    return layers.temporal_affine_forward(h, W, b)[0]


def _judge_temporal_affine_backward(case, result):
    dout, h, W = case.args
    b = case.context["b"]
    expected = dict(zip(AFFINE_GRADIENTS, layers.temporal_affine_backward(
        dout, layers.temporal_affine_forward(h, W, b)[1])))
    got = dict(zip(AFFINE_GRADIENTS, _unpack(result, case.function, AFFINE_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, AFFINE_GRADIENTS), got,
                                       {"h": h, "W": W, "b": b}, _affine_output, dout)
    _fail_if_any(problems, {
        "dh": "dh[n, t] = dout[n, t] @ W.T at every step (shape (N, T, H)).",
        "dW": ("W is shared by every example and step: dW sums the outer products of h[n, t] and dout[n, t] over "
               "every n and t (shape (H, M)); with N and T flattened into one axis that is one matrix product."),
        "db": "the bias is shared by every example and every time step: db sums dout over both (shape (M,)).",
    })


def temporal_affine_backward_cases(seed=0, sizes=AFFINE_SIZES):
    """Cases of ``temporal_affine_backward(dout, h, W) -> (dh, dW, db)`` for (N, T, H, M) in ``sizes``."""
    cases = []
    for N, T, H, M in sizes:
        inputs = affine_inputs(seed, N, T, H, M)
        dout = np.random.default_rng(seed + 1).standard_normal((N, T, M))
        cases.append(Case("temporal_affine_backward", f"seed={seed}, N={N}, T={T}, H={H}, M={M}",
                          (dout, inputs["h"], inputs["W"]), {}, _judge_temporal_affine_backward,
                          {"b": inputs["b"]}))
    return cases


def check_temporal_affine_backward(fn, seed=0, sizes=AFFINE_SIZES):
    """Check ``fn(dout, h, W) -> (dh, dW, db)``; sizes: (N, T, H, M) quadruples."""
    run_cases(fn, temporal_affine_backward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# Masked temporal softmax loss
# ----------------------------------------------------------------------------

def loss_inputs(seed, N, T, V, scale=1.0, pad_target=None):
    """Seeded scores (N, T, V) (standard normal times ``scale``), targets (N, T) in [0, V) and the
    mask (N, T) of :func:`padded_lengths`; targets at padded positions are ``pad_target`` when given."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((N, T, V)) * scale
    targets = rng.integers(0, V, (N, T))
    mask = layers.length_mask(padded_lengths(rng, N, T), T)
    if pad_target is not None:
        targets[~mask] = pad_target
    return {"scores": scores, "targets": targets, "mask": mask}


def _loss_findings(got_loss, scores, targets, mask):
    """What the student's loss equals, among the usual wrong averages (measured)."""
    N, T, V = scores.shape
    # numpy's reading of a target in -V..V-1 (a padding target of -1 picks the last score)
    picked = np.take_along_axis(layers.log_softmax(scores), (targets % V)[..., None], axis=-1)[..., 0]
    real = -(picked * mask).sum()
    candidates = [
        (real / mask.size, f"Your loss equals the sum over the real tokens divided by all N*T = {mask.size} "
                           f"positions; divide by the number of real tokens, mask.sum() = {int(mask.sum())}."),
        (-picked.mean(), "Your loss equals the mean of -log p over every position, padded ones included: the mask "
                         "is ignored."),
        (real, "Your loss equals the sum over the real tokens, not divided by their number."),
    ]
    if mask.all():
        return None
    return next((text for value, text in candidates if _same(got_loss, value)), None)


def _judge_temporal_softmax_loss(case, result):
    scores, targets, mask = case.args
    loss, dscores = layers.temporal_softmax_loss(scores, targets, mask)
    expected = {"loss": np.asarray(loss, dtype=np.float64), "dscores": dscores}
    got = dict(zip(("loss", "dscores"), _unpack(result, case.function, ("loss", "dscores"))))
    problems = _problems(case, got, expected, ("loss", "dscores"))
    problems = _with_finding(problems, "loss", _loss_findings(got["loss"], scores, targets, mask))
    if any(k == "dscores" and problem_kind(p) == "value" for k, p in problems):
        padded = np.asarray(got["dscores"], dtype=np.float64)[~mask]
        if padded.size and np.abs(padded).max() > 0:
            problems = _with_finding(problems, "dscores", (
                f"It is not 0 at the padded positions (largest size there {np.abs(padded).max():.2g})."))
    largest = float(np.abs(scores).max())
    _fail_if_any(problems, {
        "loss": ("loss = -(sum of log p[n, t, targets[n, t]] over the real positions) / mask.sum(), with "
                 "log p = s - max(s) - log(sum(exp(s - max(s)))) over the last axis."),
        "dscores": ("At a real position the gradient is the softmax minus the one-hot target, weighted like "
                    "the loss (divided by the number of real tokens); at a padded position it is 0."),
        ("loss", "nonfinite"): _overflow_hint(largest), ("dscores", "nonfinite"): _overflow_hint(largest),
    })


def temporal_softmax_loss_cases(seed=0, sizes=LOSS_SIZES, scale=1.0, pad_target=None):
    """Cases of ``temporal_softmax_loss(scores, targets, mask) -> (loss, dscores)`` for (N, T, V) in
    ``sizes``; scores are standard normal times ``scale``; ``pad_target`` is the target at padded positions
    (random in [0, V) when None)."""
    cases = []
    for N, T, V in sizes:
        inputs = loss_inputs(seed, N, T, V, scale, pad_target)
        label = (f"seed={seed}, N={N}, T={T}, V={V}, {_lengths_label(inputs['mask'].sum(axis=1))}"
                 + (f", scores scaled by {scale:g}" if scale != 1 else "")
                 + (f", targets {pad_target} at padded positions" if pad_target is not None else ""))
        cases.append(Case("temporal_softmax_loss", label, tuple(inputs.values()), {}, _judge_temporal_softmax_loss))
    return cases


def check_temporal_softmax_loss(fn, seed=0, sizes=LOSS_SIZES, scale=1.0, pad_target=None):
    """Check ``fn(scores, targets, mask) -> (loss, dscores)``; sizes: (N, T, V) triples."""
    run_cases(fn, temporal_softmax_loss_cases(seed, sizes, scale, pad_target))


# ----------------------------------------------------------------------------
# Many-to-one: the last state by length
# ----------------------------------------------------------------------------

def _judge_last_state_by_length(case, result):
    h, lengths = case.args
    expected = layers.last_state_by_length(h, lengths)[0]
    problem = output_error(case.function, case.label, "last", result, expected)
    if problem and problem_kind(problem) == "value" and _same(result, h[:, -1]):
        problem = problem.plus(" Your output equals h[:, -1], the last column of the padded batch, which is "
                               "padding for the sequences shorter than T.")
    _fail_if_any([("last", problem)] if problem else [], {"last": (
        "last[n] = h[n, lengths[n] - 1], the state after each sequence's own last real step; one fancy-indexing "
        "expression, with an index array for each of the first two axes, picks all N at once."), ("last", "type"): _alone(case.function, "last")})


def last_state_by_length_cases(seed=0, sizes=LAST_STATE_SIZES):
    """Cases of ``last_state_by_length(h, lengths) -> last`` for (N, T, H) in ``sizes``."""
    cases = []
    for N, T, H in sizes:
        rng = np.random.default_rng(seed)
        h = rng.standard_normal((N, T, H))
        lengths = padded_lengths(rng, N, T)
        cases.append(Case("last_state_by_length", f"seed={seed}, N={N}, T={T}, H={H}, {_lengths_label(lengths)}",
                          (h, lengths), {}, _judge_last_state_by_length))
    return cases


def check_last_state_by_length(fn, seed=0, sizes=LAST_STATE_SIZES):
    """Check ``fn(h, lengths) -> last (N, H)``; sizes: (N, T, H) triples."""
    run_cases(fn, last_state_by_length_cases(seed, sizes))


# ----------------------------------------------------------------------------
# Bidirectional RNN on a padded batch
# ----------------------------------------------------------------------------

def bidirectional_inputs(seed, N, T, D, H, full=False):
    """Seeded x (N, T, D), lengths (N,), and two tanh RNNs' Wx (D, H), Wh (H, H), b (H,)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    lengths = padded_lengths(rng, N, T, full)
    weights = {}
    for side in ("f", "b"):
        weights[f"Wx_{side}"] = rng.standard_normal((D, H)) / np.sqrt(D)
        weights[f"Wh_{side}"] = rng.standard_normal((H, H)) / np.sqrt(H)
        weights[f"b_{side}"] = rng.standard_normal(H) * 0.5
    return {"x": x, "lengths": lengths, "Wx_f": weights["Wx_f"], "Wh_f": weights["Wh_f"], "b_f": weights["b_f"],
            "Wx_b": weights["Wx_b"], "Wh_b": weights["Wh_b"], "b_b": weights["b_b"]}


def _judge_bidirectional_rnn_forward(case, result):
    x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b = case.args
    expected = _bidirectional_rnn_forward(*case.args)
    problem = output_error(case.function, case.label, "h", result, expected)
    if problem and problem_kind(problem) == "value":
        got = np.asarray(result, dtype=np.float64)
        N, T, D = x.shape
        H = Wh_f.shape[0]
        mask = layers.length_mask(lengths, T)
        parts = {"the forward half h[..., :H]": (got[..., :H][mask], expected[..., :H][mask]),
                 "the backward half h[..., H:]": (got[..., H:][mask], expected[..., H:][mask])}
        wrong = [name for name, (g, e) in parts.items() if gradcheck.rel_error(g, e) > TOLERANCE]
        findings = []
        if wrong:
            findings.append("At the real positions, " + " and ".join(wrong) + (" is" if len(wrong) == 1 else " are")
                            + " wrong.")
        padded = got[~mask]
        if padded.size and np.abs(padded).max() > 0:
            findings.append(f"At the padded positions it is not 0 (largest size {np.abs(padded).max():.2g}).")
        plain = rnn.rnn_forward(x[:, ::-1], np.zeros((N, H)), Wx_b, Wh_b, b_b)[0][:, ::-1]
        if "the backward half h[..., H:]" in wrong and (_same(got[..., H:][mask], plain[mask])
                                                       or _same(got[..., H:], plain)):
            findings.append("Your backward half equals the RNN run over each whole padded row reversed "
                            "(x[:, ::-1]), which starts on padding for a sequence shorter than T.")
        problem = problem.plus(" " + " ".join(findings)) if findings else problem
    _fail_if_any([("h", problem)] if problem else [], {"h": (
        "h[:, :, :H] is a tanh RNN run forwards from zeros; h[:, :, H:] is another one run backwards over each "
        "sequence from its own last real step t = lengths[n] - 1 down to 0 (reverse the first lengths[n] steps, "
        "run, reverse back); both are 0 at padded positions t >= lengths[n]."),
        ("h", "type"): _alone(case.function, "h")})


def bidirectional_rnn_forward_cases(seed=0, sizes=BIDIRECTIONAL_SIZES, full=False):
    """Cases of ``bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b) -> h`` for
    (N, T, D, H) in ``sizes``; every sequence T long when ``full``."""
    cases = []
    for N, T, D, H in sizes:
        inputs = bidirectional_inputs(seed, N, T, D, H, full)
        cases.append(Case("bidirectional_rnn_forward",
                          f"seed={seed}, N={N}, T={T}, D={D}, H={H}, {_lengths_label(inputs['lengths'])}",
                          tuple(inputs.values()), {}, _judge_bidirectional_rnn_forward))
    return cases


def check_bidirectional_rnn_forward(fn, seed=0, sizes=BIDIRECTIONAL_SIZES, full=False):
    """Check ``fn(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b) -> h (N, T, 2H)``; sizes: (N, T, D, H)."""
    run_cases(fn, bidirectional_rnn_forward_cases(seed, sizes, full))


# ----------------------------------------------------------------------------
# Additive (Bahdanau) attention
# ----------------------------------------------------------------------------

def attention_inputs(seed, N, S, Hq, Hk, A, scale=1.0):
    """Seeded query (N, Hq), keys (N, S, Hk), mask (N, S) of :func:`padded_lengths`, Wq (Hq, A),
    Wk (Hk, A) and v (A,) times ``scale`` (a large scale makes large scores)."""
    rng = np.random.default_rng(seed)
    query, keys = rng.standard_normal((N, Hq)), rng.standard_normal((N, S, Hk))
    mask = layers.length_mask(padded_lengths(rng, N, S), S)
    return {"query": query, "keys": keys, "mask": mask, "Wq": rng.standard_normal((Hq, A)) / np.sqrt(Hq),
            "Wk": rng.standard_normal((Hk, A)) / np.sqrt(Hk), "v": rng.standard_normal(A) * scale}


def _attention_scores(query, keys, mask, Wq, Wk, v):
    return np.tanh((query @ Wq)[:, None, :] + keys @ Wk) @ v


def _weights_findings(got, mask):
    """Measured facts about weights (N, S) that are wrong: masked entries, the axis they sum to 1 on."""
    findings = []
    masked = got[~mask]
    if masked.size and np.abs(masked).max() > 0:
        findings.append(f"They are not 0 at masked positions (largest size there {np.abs(masked).max():.2g}).")
    over_source, over_batch = got.sum(axis=1), got.sum(axis=0)
    if not np.allclose(over_source, 1.0, atol=1e-9):
        if np.allclose(over_batch, 1.0, atol=1e-9):
            findings.append("They sum to 1 over the batch axis (axis 0), not over the source positions (axis 1).")
        else:
            low, high = over_source.min(), over_source.max()
            sums = f"{low:.3g}" if np.isclose(low, high) else f"values from {low:.3g} to {high:.3g}"
            findings.append(f"Their rows sum to {sums}, not to 1.")
    return " ".join(findings) or None


def _judge_additive_attention_forward(case, result):
    expected_context, expected_weights, _ = layers.additive_attention_forward(*case.args)
    context, weights = _unpack(result, case.function, ("context", "weights"))
    got, expected = {"context": context, "weights": weights}, {"context": expected_context, "weights": expected_weights}
    problems = _problems(case, got, expected, ("context", "weights"))
    if any(k == "weights" and problem_kind(p) == "value" for k, p in problems):
        problems = _with_finding(problems, "weights", _weights_findings(np.asarray(weights, dtype=np.float64),
                                                                        case.args[2]))
    largest = float(np.abs(_attention_scores(*case.args)).max())
    _fail_if_any(problems, {
        "weights": ("score[n, s] = v . tanh(query[n] @ Wq + keys[n, s] @ Wk); weights[n] = softmax over s of the "
                    "scores, with masked positions set to -inf first (weight exactly 0); each row sums to 1."),
        "context": "context[n] = sum over s of weights[n, s] * keys[n, s] (shape (N, Hk)).",
        ("weights", "nonfinite"): _overflow_hint(largest), ("context", "nonfinite"): _overflow_hint(largest),
    }, "several outputs are wrong: the context is built from the weights, so start with the weights.")


def additive_attention_forward_cases(seed=0, sizes=ATTENTION_SIZES, scale=1.0):
    """Cases of ``additive_attention_forward(query, keys, mask, Wq, Wk, v) -> (context, weights)`` for
    (N, S, Hq, Hk, A) in ``sizes``; v is scaled by ``scale``."""
    cases = []
    for N, S, Hq, Hk, A in sizes:
        inputs = attention_inputs(seed, N, S, Hq, Hk, A, scale)
        label = (f"seed={seed}, N={N}, S={S}, Hq={Hq}, Hk={Hk}, A={A}, {_lengths_label(inputs['mask'].sum(axis=1))}"
                 + (f", v scaled by {scale:g}" if scale != 1 else ""))
        cases.append(Case("additive_attention_forward", label, tuple(inputs.values()), {},
                          _judge_additive_attention_forward))
    return cases


def check_additive_attention_forward(fn, seed=0, sizes=ATTENTION_SIZES, scale=1.0):
    """Check ``fn(query, keys, mask, Wq, Wk, v) -> (context (N, Hk), weights (N, S))``; sizes: (N, S, Hq, Hk, A)."""
    run_cases(fn, additive_attention_forward_cases(seed, sizes, scale))


ATTENTION_GRADIENTS = ("dquery", "dkeys", "dWq", "dWk", "dv")


def _attention_context(query, keys, mask, Wq, Wk, v):
    return layers.additive_attention_forward(query, keys, mask, Wq, Wk, v)[0]


def _judge_additive_attention_backward(case, result):
    dcontext, query, keys, mask, Wq, Wk, v = case.args
    inputs = {"query": query, "keys": keys, "mask": mask, "Wq": Wq, "Wk": Wk, "v": v}
    expected = dict(zip(ATTENTION_GRADIENTS, layers.additive_attention_backward(
        dcontext, layers.additive_attention_forward(**inputs)[2])))
    got = dict(zip(ATTENTION_GRADIENTS, _unpack(result, case.function, ATTENTION_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, ATTENTION_GRADIENTS), got, inputs,
                                       _attention_context, dcontext)
    # The hints name the path each gradient takes, not its code: every one of them starts from the
    # gradient at the tanh's input, (N, S, A), which the student derives once.
    _fail_if_any(problems, {
        "dquery": ("query @ Wq is added to the tanh's input at every source step s: sum the gradient at the "
                   "tanh's input over s, then take it back through Wq (shape (N, Hq))."),
        "dkeys": ("keys are used twice: as values (each weighted by its attention weight in the context) and "
                  "inside the scores (through Wk and the tanh); compute both contributions and add them."),
        "dWq": ("Wq is one affine map shared by every example and source step: its gradient pairs query with the "
                "gradient at the tanh's input summed over s, as for any affine layer (shape (Hq, A))."),
        "dWk": ("Wk is applied to every key: its gradient pairs keys[n, s] with the gradient at the tanh's input "
                "at (n, s), summed over n and s (shape (Hk, A))."),
        "dv": "score[n, s] = u[n, s] . v with u = tanh(...): dv sums dscores[n, s] * u[n, s] over n and s.",
    }, ("several gradients are wrong: check dscores first. dweights = keys @ dcontext (N, S); "
        "dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True)), 0 at masked positions."))


def additive_attention_backward_cases(seed=0, sizes=ATTENTION_SIZES):
    """Cases of ``additive_attention_backward(dcontext, query, keys, mask, Wq, Wk, v) ->
    (dquery, dkeys, dWq, dWk, dv)`` for (N, S, Hq, Hk, A) in ``sizes``."""
    cases = []
    for N, S, Hq, Hk, A in sizes:
        inputs = attention_inputs(seed, N, S, Hq, Hk, A)
        dcontext = np.random.default_rng(seed + 1).standard_normal((N, Hk))
        cases.append(Case("additive_attention_backward",
                          f"seed={seed}, N={N}, S={S}, Hq={Hq}, Hk={Hk}, A={A}, "
                          f"{_lengths_label(inputs['mask'].sum(axis=1))}",
                          (dcontext, *inputs.values()), {}, _judge_additive_attention_backward))
    return cases


def check_additive_attention_backward(fn, seed=0, sizes=ATTENTION_SIZES):
    """Check ``fn(dcontext, query, keys, mask, Wq, Wk, v) -> (dquery, dkeys, dWq, dWk, dv)``."""
    run_cases(fn, additive_attention_backward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# Greedy decoding
# ----------------------------------------------------------------------------

def decode_inputs(seed, N, L, V, D, H):
    """Seeded decoder: h0 (N, H), W_embed (V, D), Wx (D, H), Wh (H, H), b (H,), W_out (H, V), b_out (V,),
    start_token in [0, V), max_length = L. The weights are large enough that the fed token matters."""
    rng = np.random.default_rng(seed)
    return {"h0": rng.uniform(-1, 1, (N, H)), "W_embed": rng.standard_normal((V, D)) * 2.0,
            "Wx": rng.standard_normal((D, H)) / np.sqrt(D) * 2.0, "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
            "b": rng.standard_normal(H) * 0.5, "W_out": rng.standard_normal((H, V)) * 2.0,
            "b_out": rng.standard_normal(V) * 0.5, "start_token": int(rng.integers(0, V)), "max_length": L}


def _decode_fed_start(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
    """The tokens of a decoder fed start_token at every step (a wrong decoder, for the message)."""
    h, tokens = h0, []
    for _ in range(max_length):
        h = np.tanh(W_embed[start_token] @ Wx + h @ Wh + b)
        tokens.append((h @ W_out + b_out).argmax(axis=1))
    return np.stack(tokens, axis=1)


def _judge_rnn_greedy_decode(case, result):
    expected = models.rnn_greedy_decode(*case.args)
    where = f"{case.function}, case {case.label}: output tokens"
    problem = output_error(case.function, case.label, "tokens", result, expected.astype(np.float64))
    wrong_value = problem is not None and problem_kind(problem) == "value"
    # tokens within the float tolerance of the reference but not equal to it are wrong too
    close_not_equal = problem is None and not np.array_equal(np.asarray(result, dtype=np.float64), expected)
    if wrong_value or close_not_equal:
        got = np.asarray(result, dtype=np.float64)
        wrong = got != expected
        first = int(np.argmax(wrong.any(axis=0)))
        problem = Problem(f"{where} is wrong at {int(wrong.sum())} of {wrong.size} positions; the first wrong step "
                          f"is t={first}.", "value")
        start = case.args[7]
        if _same(got, _decode_fed_start(*case.args)):
            problem = problem.plus(" Your tokens are those of a decoder fed start_token at every step.")
        elif expected.shape[1] > 1 and np.all(got[:, 0] == start) and np.array_equal(got[:, 1:], expected[:, :-1]):
            problem = problem.plus(" Your tokens are the right ones shifted by one step, with start_token first.")
    _fail_if_any([("tokens", problem)] if problem else [], {"tokens": (
        "Step t: h = tanh(W_embed[token] @ Wx + h @ Wh + b) with token = start_token at t = 0 and the previous "
        "step's prediction after that; the prediction is (h @ W_out + b_out).argmax(axis=1). tokens[:, t] is the "
        "prediction of step t (the start token is not part of the output).")})


def rnn_greedy_decode_cases(seed=0, sizes=DECODE_SIZES):
    """Cases of ``rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length)`` for
    (N, max_length, V, D, H) in ``sizes``."""
    cases = []
    for N, L, V, D, H in sizes:
        inputs = decode_inputs(seed, N, L, V, D, H)
        cases.append(Case("rnn_greedy_decode", f"seed={seed}, N={N}, max_length={L}, V={V}, D={D}, H={H}, "
                          f"start_token={inputs['start_token']}", tuple(inputs.values()), {},
                          _judge_rnn_greedy_decode))
    return cases


def check_rnn_greedy_decode(fn, seed=0, sizes=DECODE_SIZES):
    """Check ``fn(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length) -> tokens (N, max_length)``;
    sizes: (N, max_length, V, D, H)."""
    run_cases(fn, rnn_greedy_decode_cases(seed, sizes))


# The cases behind every ``check_<name>`` of this module, for the sandboxed autograder.
CASES = {
    "check_embedding_forward": embedding_forward_cases,
    "check_embedding_backward": embedding_backward_cases,
    "check_temporal_affine_forward": temporal_affine_forward_cases,
    "check_temporal_affine_backward": temporal_affine_backward_cases,
    "check_temporal_softmax_loss": temporal_softmax_loss_cases,
    "check_last_state_by_length": last_state_by_length_cases,
    "check_bidirectional_rnn_forward": bidirectional_rnn_forward_cases,
    "check_additive_attention_forward": additive_attention_forward_cases,
    "check_additive_attention_backward": additive_attention_backward_cases,
    "check_rnn_greedy_decode": rnn_greedy_decode_cases,
}
