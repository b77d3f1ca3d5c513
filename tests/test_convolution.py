"""Tests of rnncourse.convolution: gradients against centred differences, PyTorch's Conv1d with left
padding, causality and the receptive field (measured against the formula), and bad input."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncourse.convolution import causal_conv1d_backward, causal_conv1d_forward, receptive_field
from rnncourse.gradcheck import numerical_gradient_array, rel_error

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def random_layer(rng, N, T, C_in, C_out, K):
    return (rng.standard_normal((N, T, C_in)), rng.standard_normal((K, C_in, C_out)) / np.sqrt(K * C_in),
            rng.standard_normal(C_out))


def test_forward_by_hand():
    # one channel, kernel (w0, w1, w2) = (1, 10, 100), dilation 2: y[t] = 100 x[t] + 10 x[t-2] + x[t-4] + b
    x = np.arange(1.0, 7.0).reshape(1, 6, 1)
    w = np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)
    y, _ = causal_conv1d_forward(x, w, np.array([0.5]), dilation=2)
    expected = [100 * 1, 100 * 2, 100 * 3 + 10 * 1, 100 * 4 + 10 * 2, 100 * 5 + 10 * 3 + 1, 100 * 6 + 10 * 4 + 2]
    np.testing.assert_array_equal(y[0, :, 0], np.array(expected) + 0.5)


@SETTINGS
@given(N=small, T=st.integers(1, 9), C_in=small, C_out=small, K=small, dilation=st.integers(1, 3), seed=seeds)
def test_backward_equals_numeric_gradients(N, T, C_in, C_out, K, dilation, seed):
    rng = np.random.default_rng(seed)
    x, w, b = random_layer(rng, N, T, C_in, C_out, K)
    y, cache = causal_conv1d_forward(x, w, b, dilation)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = causal_conv1d_backward(dy, cache)
    assert rel_error(dx, numerical_gradient_array(lambda v: causal_conv1d_forward(v, w, b, dilation)[0], x, dy)) < 1e-7
    assert rel_error(dw, numerical_gradient_array(lambda v: causal_conv1d_forward(x, v, b, dilation)[0], w, dy)) < 1e-7
    assert rel_error(db, numerical_gradient_array(lambda v: causal_conv1d_forward(x, w, v, dilation)[0], b, dy)) < 1e-7


@SETTINGS
@given(N=small, T=st.integers(1, 12), C_in=small, C_out=small, K=small, dilation=st.integers(1, 3), seed=seeds)
def test_equals_torch_conv1d_with_left_padding(N, T, C_in, C_out, K, dilation, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, w, b = random_layer(rng, N, T, C_in, C_out, K)
    dy = rng.standard_normal((N, T, C_out))
    y, cache = causal_conv1d_forward(x, w, b, dilation)
    dx, dw, db = causal_conv1d_backward(dy, cache)

    conv = torch.nn.Conv1d(C_in, C_out, K, dilation=dilation, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w.transpose(2, 1, 0).copy()))  # (C_out, C_in, K)
        conv.bias.copy_(torch.from_numpy(b))
    xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)  # (N, C_in, T)
    yt = conv(torch.nn.functional.pad(xt, ((K - 1) * dilation, 0)))
    yt.backward(torch.from_numpy(dy.transpose(0, 2, 1).copy()))
    assert rel_error(y, yt.detach().numpy().transpose(0, 2, 1)) < 1e-12
    assert rel_error(dx, xt.grad.numpy().transpose(0, 2, 1)) < 1e-12
    assert rel_error(dw, conv.weight.grad.numpy().transpose(2, 1, 0)) < 1e-12
    assert rel_error(db, conv.bias.grad.numpy()) < 1e-12


def last_output_dependence(kernel_sizes, dilations, T, seed):
    """(T,) bool: which input steps change the last output of a stack of causal convolutions (tanh
    between layers), found by the backward pass of a gradient that is 1 on every last output."""
    rng = np.random.default_rng(seed)
    h, caches, C = rng.standard_normal((1, T, 2)), [], 2
    for K, d in zip(kernel_sizes, dilations):
        w, b = rng.standard_normal((K, C, 3)) + 0.5, rng.standard_normal(3)
        y, cache = causal_conv1d_forward(h, w, b, d)
        h = np.tanh(y)
        caches.append((cache, h))
        C = 3
    dh = np.zeros_like(h)
    dh[0, -1] = 1.0
    for cache, out in reversed(caches):
        dh = causal_conv1d_backward(dh * (1 - out**2), cache)[0]
    return np.any(dh[0] != 0.0, axis=1)


@SETTINGS
@given(layers=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=4), seed=seeds)
def test_receptive_field_is_what_the_last_output_depends_on(layers, seed):
    kernel_sizes, dilations = zip(*layers)
    field = receptive_field(kernel_sizes, dilations)
    T = field + 5
    depends = last_output_dependence(kernel_sizes, dilations, T, seed)
    # nothing before the receptive field reaches the last output; the step right at its edge does
    assert not depends[:T - field].any()
    assert depends[T - field] and depends[-1]


@SETTINGS
@given(T=st.integers(2, 10), K=small, dilation=st.integers(1, 3), seed=seeds)
def test_output_never_depends_on_the_future(T, K, dilation, seed):
    rng = np.random.default_rng(seed)
    x, w, b = random_layer(rng, 2, T, 2, 3, K)
    y, _ = causal_conv1d_forward(x, w, b, dilation)
    t = T // 2
    changed = x.copy()
    changed[:, t:] = rng.standard_normal(changed[:, t:].shape)  # change the present and the future
    y_changed, _ = causal_conv1d_forward(changed, w, b, dilation)
    np.testing.assert_array_equal(y[:, :t], y_changed[:, :t])
    assert not np.array_equal(y[:, t:], y_changed[:, t:])


def test_receptive_field_formula_and_defaults():
    assert receptive_field([3, 3, 3]) == 7
    assert receptive_field([3, 3, 3], [1, 2, 4]) == 15
    assert receptive_field([1]) == 1
    assert receptive_field([2] * 5, [1, 2, 4, 8, 16]) == 32


@pytest.mark.parametrize("kernel_sizes, dilations, name", [
    ([], None, "kernel_sizes"), ([3, 0], None, r"kernel_sizes\[1\]"), ([3, 3], [1], "dilations"),
    ([3], [0], r"dilations\[0\]"), ([2.5], None, r"kernel_sizes\[0\]")])
def test_receptive_field_refuses_bad_layers(kernel_sizes, dilations, name):
    with pytest.raises(ValueError, match=name):
        receptive_field(kernel_sizes, dilations)


def test_bad_shapes_name_the_argument():
    x, w, b = random_layer(np.random.default_rng(0), 2, 5, 3, 4, 2)
    with pytest.raises(ValueError, match=r"x must be \(N, T, C_in\), got shape \(5, 3\)"):
        causal_conv1d_forward(x[0], w, b)
    with pytest.raises(ValueError, match=r"w must be \(K, C_in, C_out\) = \(K, 3, C_out\).*got \(2, 2, 4\)"):
        causal_conv1d_forward(x, w[:, :2], b)
    with pytest.raises(ValueError, match=r"b must be \(C_out,\) = \(4,\), got \(3,\)"):
        causal_conv1d_forward(x, w, b[:3])
    with pytest.raises(ValueError, match="dilation"):
        causal_conv1d_forward(x, w, b, dilation=0)
    with pytest.raises(ValueError, match="x must be a numeric array"):
        causal_conv1d_forward(x.astype(str), w, b)
    y, cache = causal_conv1d_forward(x, w, b)
    with pytest.raises(ValueError, match=r"dy must be \(N, T, C_out\) = \(2, 5, 4\), got \(2, 4, 4\)"):
        causal_conv1d_backward(y[:, 1:], cache)


def test_inputs_are_not_modified():
    x, w, b = random_layer(np.random.default_rng(1), 2, 5, 3, 4, 3)
    copies = [a.copy() for a in (x, w, b)]
    y, cache = causal_conv1d_forward(x, w, b, 2)
    dy = np.ones_like(y)
    causal_conv1d_backward(dy, cache)
    for original, copy in zip((x, w, b), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(dy, np.ones_like(y))
