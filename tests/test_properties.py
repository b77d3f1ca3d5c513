"""Property tests of the public functions of rnn, lstm, gru and fast, over random N, T, D, H.

``hypothesis`` draws the sizes (and a seed for the values); for every draw:

- a bad shape or a non-numeric dtype of any array argument gives a ``ValueError`` that
  names the argument;
- ``rnncourse.fast`` computes what the teaching code computes, forward and backward;
- the analytic gradients of the teaching code equal centred-difference numeric ones.

The examples are few (``max_examples`` small) so that the file runs in seconds.
"""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rnncourse import fast, gru, lstm, rnn
from rnncourse.gradcheck import numerical_gradient_array

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


# ----------------------------------------------------------------------------
# The public functions and their arguments
# ----------------------------------------------------------------------------

def step_arguments(model, rng, N, D, H):
    """The array arguments of ``<model>_step_forward``, by name, in order."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[model]
    args = {"x": rng.standard_normal((N, D)), "h_prev": rng.uniform(-1, 1, (N, H))}
    if model == "lstm":
        args["c_prev"] = rng.standard_normal((N, H))
    args["Wx"] = rng.standard_normal((D, G * H)) / np.sqrt(D)
    args["Wh"] = rng.standard_normal((H, G * H)) / np.sqrt(H)
    if model == "gru":
        args["bx"], args["bh"] = rng.standard_normal(G * H) * 0.5, rng.standard_normal(G * H) * 0.5
    else:
        args["b"] = rng.standard_normal(G * H) * 0.5
    return args


def sequence_arguments(model, rng, N, T, D, H):
    """The array arguments of ``<model>_forward``, by name (the LSTM's c0 as a keyword)."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[model]
    args = {"x": rng.standard_normal((N, T, D)), "h0": rng.uniform(-1, 1, (N, H)),
            "Wx": rng.standard_normal((D, G * H)) / np.sqrt(D), "Wh": rng.standard_normal((H, G * H)) / np.sqrt(H)}
    if model == "gru":
        args["bx"], args["bh"] = rng.standard_normal(G * H) * 0.5, rng.standard_normal(G * H) * 0.5
    else:
        args["b"] = rng.standard_normal(G * H) * 0.5
    if model == "lstm":
        args["c0"] = rng.standard_normal((N, H))
    return args


STEP_FORWARD = {"rnn": rnn.rnn_step_forward, "lstm": lstm.lstm_step_forward, "gru": gru.gru_step_forward}
FORWARD = {"rnn": rnn.rnn_forward, "lstm": lstm.lstm_forward, "gru": gru.gru_forward}
BACKWARD = {"rnn": rnn.rnn_backward, "lstm": lstm.lstm_backward, "gru": gru.gru_backward}
FAST = {"rnn": (fast.rnn_forward_fast, fast.rnn_backward_fast),
        "lstm": (fast.lstm_forward_fast, fast.lstm_backward_fast),
        "gru": (fast.gru_forward_fast, fast.gru_backward_fast)}
MODELS = sorted(FORWARD)


def names_argument(message, name):
    """True when ``message`` starts with ``name`` as the blamed argument, or names it as the
    argument that fixed the size the blamed one disagrees with."""
    return message.startswith(f"{name} must") or re.search(rf"from {re.escape(name)} \(", message) is not None


# ----------------------------------------------------------------------------
# Bad shapes and dtypes give a ValueError naming the argument
# ----------------------------------------------------------------------------

@SETTINGS
@given(model=st.sampled_from(MODELS), sequence=st.booleans(), N=sizes, T=sizes, D=sizes, H=sizes, seed=seeds,
       data=st.data())
def test_bad_shape_names_the_argument(model, sequence, N, T, D, H, seed, data):
    rng = np.random.default_rng(seed)
    args = sequence_arguments(model, rng, N, T, D, H) if sequence else step_arguments(model, rng, N, D, H)
    function = FORWARD[model] if sequence else STEP_FORWARD[model]
    name = data.draw(st.sampled_from(sorted(args)), label="argument")
    how = data.draw(st.sampled_from(["extra axis", "missing axis", "one more", "one less"]), label="change")
    axis = data.draw(st.integers(0, args[name].ndim - 1), label="axis")
    # Any length T is valid for a whole sequence, so changing x's time axis is no error.
    assume(not (sequence and name == "x" and axis == 1 and how in ("one more", "one less")))
    shape = list(args[name].shape)
    if how == "extra axis":
        shape.append(1)
    elif how == "missing axis":
        del shape[axis]
    elif how == "one more" or shape[axis] == 1:
        shape[axis] += 1
    else:
        shape[axis] -= 1
    args[name] = np.resize(args[name], shape)
    with pytest.raises(ValueError) as error:
        function(**args)
    message = str(error.value)
    assert names_argument(message, name), (name, shape, message)
    assert re.match(r"^\w+ must", message), message
    if how in ("extra axis", "missing axis"):  # a wrong number of axes is always blamed on the argument itself
        assert message.startswith(f"{name} must have"), message


@SETTINGS
@given(model=st.sampled_from(MODELS), sequence=st.booleans(), N=sizes, T=sizes, D=sizes, H=sizes, seed=seeds,
       dtype=st.sampled_from(["U4", "object", "complex128"]), data=st.data())
def test_bad_dtype_names_the_argument(model, sequence, N, T, D, H, seed, dtype, data):
    rng = np.random.default_rng(seed)
    args = sequence_arguments(model, rng, N, T, D, H) if sequence else step_arguments(model, rng, N, D, H)
    function = FORWARD[model] if sequence else STEP_FORWARD[model]
    name = data.draw(st.sampled_from(sorted(args)), label="argument")
    args[name] = args[name].astype(dtype)
    with pytest.raises(ValueError, match=rf"^{name} must be a numeric array, got dtype"):
        function(**args)


@SETTINGS
@given(model=st.sampled_from(MODELS), N=sizes, T=sizes, D=sizes, H=sizes, seed=seeds, bad=st.sampled_from(
    ["longer", "shorter", "string"]))
def test_bad_upstream_gradient_names_dh(model, N, T, D, H, seed, bad):
    rng = np.random.default_rng(seed)
    _, cache = FORWARD[model](**sequence_arguments(model, rng, N, T, D, H))
    dh = {"longer": np.ones((N, T + 1, H)), "shorter": np.ones((N, T, H + 1)),
          "string": np.full((N, T, H), "1.0")}[bad]
    for backward in (BACKWARD[model], FAST[model][1]):
        if backward is FAST[model][1]:
            _, cache = FAST[model][0](**sequence_arguments(model, np.random.default_rng(seed), N, T, D, H))
        with pytest.raises(ValueError, match=r"^dh must"):
            backward(dh, cache)


# ----------------------------------------------------------------------------
# rnncourse.fast equals the teaching code
# ----------------------------------------------------------------------------

def assert_close(got, want, what):
    """Equal up to rounding: max |got - want| <= 1e-10 * max(1, max |want|)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    assert float(np.max(np.abs(got - want), initial=0.0)) <= 1e-10 * scale, what


@SETTINGS
@given(model=st.sampled_from(MODELS), N=sizes, T=st.integers(1, 6), D=sizes, H=sizes, seed=seeds,
       activation=st.sampled_from(["tanh", "sigmoid", "relu"]))
def test_fast_equals_teaching_code(model, N, T, D, H, seed, activation):
    rng = np.random.default_rng(seed)
    args = sequence_arguments(model, rng, N, T, D, H)
    kwargs = {"activation": activation} if model == "rnn" else {}
    dh = rng.standard_normal((N, T, H))
    h, cache = FORWARD[model](**args, **kwargs)
    forward_fast, backward_fast = FAST[model]
    h_fast, cache_fast = forward_fast(**args, **kwargs)
    assert_close(h_fast, h, "h")
    grads, grads_fast = BACKWARD[model](dh, cache), backward_fast(dh, cache_fast)
    assert len(grads) == len(grads_fast)
    for index, (got, want) in enumerate(zip(grads_fast, grads)):
        assert_close(got, want, f"gradient {index}")


# ----------------------------------------------------------------------------
# Analytic gradients equal numeric ones
# ----------------------------------------------------------------------------

GRADIENT_NAMES = {
    "rnn": ("x", "h0", "Wx", "Wh", "b"),
    "lstm": ("x", "h0", "c0", "Wx", "Wh", "b"),
    "gru": ("x", "h0", "Wx", "Wh", "bx", "bh"),
}


@SETTINGS
@given(model=st.sampled_from(MODELS), N=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3),
       H=st.integers(1, 3), seed=seeds, activation=st.sampled_from(["tanh", "sigmoid"]))
def test_analytic_gradients_equal_numeric(model, N, T, D, H, seed, activation):
    rng = np.random.default_rng(seed)
    args = sequence_arguments(model, rng, N, T, D, H)
    kwargs = {"activation": activation} if model == "rnn" else {}
    dh = rng.standard_normal((N, T, H))
    _, cache = FORWARD[model](**args, **kwargs)
    analytic = dict(zip(GRADIENT_NAMES[model], BACKWARD[model](dh, cache)))
    for name, gradient in analytic.items():
        def f(value, name=name):
            return FORWARD[model](**{**args, name: value}, **kwargs)[0]

        numeric = numerical_gradient_array(f, args[name], dh)
        # centred differences (h = 1e-5) are accurate to about 1e-9 here; a wrong term is off by far more
        scale = max(1.0, float(np.max(np.abs(numeric))))
        assert float(np.max(np.abs(gradient - numeric))) <= 1e-7 * scale, (model, name)


@SETTINGS
@given(N=st.integers(1, 3), T=st.integers(1, 6), D=st.integers(1, 3), H=st.integers(1, 3), seed=seeds,
       truncation=st.integers(1, 7))
def test_truncated_bptt_is_full_bptt_of_each_chunk(N, T, D, H, seed, truncation):
    """The gradient of the truncated backward equals the numeric gradient of a forward pass whose
    state is cut (a constant) at every chunk boundary, as h.detach() does."""
    rng = np.random.default_rng(seed)
    args = sequence_arguments("rnn", rng, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.rnn_forward(**args)
    got = rnn.rnn_backward_truncated(dh, cache, truncation)

    def chunked_forward(**kw):
        """The loss sum(h * dh) of the chunks, each from the (constant) state the full pass left."""
        pieces = []
        for start in range(0, T, truncation):
            h_start = kw["h0"] if start == 0 else h[:, start - 1]
            stop = min(start + truncation, T)
            pieces.append(rnn.rnn_forward(kw["x"][:, start:stop], h_start, kw["Wx"], kw["Wh"], kw["b"])[0])
        return np.concatenate(pieces, axis=1)

    for name, gradient in zip(("x", "h0", "Wx", "Wh", "b"), got):
        numeric = numerical_gradient_array(lambda v, name=name: chunked_forward(**{**args, name: v}), args[name], dh)
        scale = max(1.0, float(np.max(np.abs(numeric))))
        assert float(np.max(np.abs(gradient - numeric))) <= 1e-7 * scale, name
