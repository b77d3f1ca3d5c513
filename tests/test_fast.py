"""rnncourse.fast computes what the teaching code computes: every output, every gradient."""
import numpy as np
import pytest

from rnncourse import fast, gru, lstm, rnn
from rnncourse.benchmark import blas_limit, blas_threads, compare_numpy_torch, format_table, format_targets, rnn_flops

SIZES = [(1, 1, 1, 1), (1, 5, 3, 4), (3, 1, 4, 5), (2, 6, 1, 1), (4, 7, 5, 6), (3, 12, 8, 16)]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def error(expected, got):
    """The largest difference relative to the largest value, max|a - b| / max|a|, in float64.

    Not the element-wise relative error: rnncourse.fast writes tanh as 2 / (1 + exp(-2a)) - 1,
    which is exact to a few units of rounding in absolute terms but not relative to a value
    close to 0 (nor is float32 relative to a value that is small by cancellation). A gradient
    sums such values, so what it sees is their absolute error, on the scale of the output.
    """
    expected, got = expected.astype(np.float64), got.astype(np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    return float(np.max(np.abs(expected - got), initial=0.0)) / scale


CELLS = {
    "rnn": (rnn.rnn_forward, rnn.rnn_backward, fast.rnn_forward_fast, fast.rnn_backward_fast, 1),
    "lstm": (lstm.lstm_forward, lstm.lstm_backward, fast.lstm_forward_fast, fast.lstm_backward_fast, 4),
    "gru": (gru.gru_forward, gru.gru_backward, fast.gru_forward_fast, fast.gru_backward_fast, 3),
}


def inputs(cell, N, T, D, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    G = CELLS[cell][4]
    args = [rng.standard_normal((N, T, D)), rng.uniform(-1, 1, (N, H)),
            rng.standard_normal((D, G * H)) / np.sqrt(D), rng.standard_normal((H, G * H)) / np.sqrt(H),
            rng.standard_normal(G * H) * 0.5]
    if cell == "gru":
        args.append(rng.standard_normal(G * H) * 0.5)
    kwargs = {"c0": rng.standard_normal((N, H)).astype(dtype)} if cell == "lstm" else {}
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    return [a.astype(dtype) for a in args], kwargs, dh


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_fast_equals_teaching_code(cell, size, dtype):
    forward, backward, forward_fast, backward_fast, _ = CELLS[cell]
    args, kwargs, dh = inputs(cell, *size, dtype, seed=sum(size))
    copies = [a.copy() for a in args + list(kwargs.values()) + [dh]]
    h, cache = forward(*args, **kwargs)
    h_fast, cache_fast = forward_fast(*args, **kwargs)
    grads, grads_fast = backward(dh, cache), backward_fast(dh, cache_fast)
    assert h_fast.shape == h.shape and h_fast.dtype == dtype
    assert error(h, h_fast) < TOLERANCE[dtype]
    assert len(grads_fast) == len(grads)
    for index, (expected, got) in enumerate(zip(grads, grads_fast)):
        assert got.shape == expected.shape and got.dtype == dtype, index
        assert error(expected, got) < TOLERANCE[dtype], (index, error(expected, got))
    for before, after in zip(copies, args + list(kwargs.values()) + [dh]):
        np.testing.assert_array_equal(before, after)  # inputs never modified


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_rnn_activations(activation):
    args, _, dh = inputs("rnn", 3, 6, 4, 5, np.float64, seed=1)
    h, cache = rnn.rnn_forward(*args, activation=activation)
    h_fast, cache_fast = fast.rnn_forward_fast(*args, activation=activation)
    assert error(h, h_fast) < 1e-12
    for expected, got in zip(rnn.rnn_backward(dh, cache), fast.rnn_backward_fast(dh, cache_fast)):
        assert error(expected, got) < 1e-12


def test_lstm_default_c0_and_saturated_gates():
    args, _, dh = inputs("lstm", 2, 4, 3, 5, np.float64, seed=2)
    args[0] = args[0] * 400  # gates at +-1e3: exp overflows, no warning, same numbers
    h, cache = lstm.lstm_forward(*args)
    h_fast, cache_fast = fast.lstm_forward_fast(*args)
    assert error(h, h_fast) < 1e-12
    assert np.all(np.isfinite(h_fast))
    for expected, got in zip(lstm.lstm_backward(dh, cache), fast.lstm_backward_fast(dh, cache_fast)):
        assert error(expected, got) < 1e-12


def test_non_contiguous_and_integer_inputs():
    args, _, dh = inputs("gru", 3, 5, 4, 2, np.float64, seed=3)
    x = np.asfortranarray(args[0])
    h, _ = gru.gru_forward(x, *args[1:])
    h_fast, _ = fast.gru_forward_fast(x, *args[1:])
    assert error(h, h_fast) < 1e-12
    ints = [np.ones((2, 3, 2), dtype=int), np.zeros((2, 2), dtype=int), np.ones((2, 2), dtype=int),
            np.ones((2, 2), dtype=int), np.zeros(2, dtype=int)]
    assert fast.rnn_forward_fast(*ints)[0].dtype == np.float64


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bad_shapes_raise(cell):
    forward_fast, backward_fast = CELLS[cell][2], CELLS[cell][3]
    args, kwargs, dh = inputs(cell, 2, 3, 4, 5, np.float64)
    for index in range(len(args)):
        bad = list(args)
        bad[index] = np.zeros(args[index].shape + (1,))
        with pytest.raises(ValueError):
            forward_fast(*bad, **kwargs)
    bad = list(args)
    bad[3] = np.zeros((5, 5 * CELLS[cell][4] + 1))  # Wh with a wrong gate dimension
    with pytest.raises(ValueError):
        forward_fast(*bad, **kwargs)
    _, cache = forward_fast(*args, **kwargs)
    with pytest.raises(ValueError):
        backward_fast(dh[:, :2], cache)
    if cell == "rnn":
        with pytest.raises(ValueError):
            forward_fast(*args, activation="softmax")
    if cell == "lstm":
        with pytest.raises(ValueError):
            forward_fast(*args, c0=np.zeros((2, 4)))


@pytest.mark.parametrize("use_scipy", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a_order", ["C", "F"])
@pytest.mark.parametrize("b_order", ["C", "F"])
def test_gemm_accumulate_adds_in_place(dtype, a_order, b_order, use_scipy, monkeypatch):
    if use_scipy:
        pytest.importorskip("scipy")
    monkeypatch.setattr(fast, "USE_SCIPY_BLAS", use_scipy)
    rng = np.random.default_rng(4)
    a = np.asarray(rng.standard_normal((5, 3)), dtype=dtype, order=a_order)
    b = np.asarray(rng.standard_normal((3, 7)), dtype=dtype, order=b_order)
    buffer = rng.standard_normal((2, 5, 7)).astype(dtype)
    expected = buffer[1].astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)
    before = buffer.copy()
    result = fast.gemm_accumulate(a, b, buffer[1])  # one contiguous block of a time-major buffer
    assert np.shares_memory(result, buffer) and result.dtype == dtype
    assert error(expected, buffer[1]) < TOLERANCE[dtype]
    np.testing.assert_array_equal(buffer[0], before[0])  # nothing else written


def test_gemm_accumulate_into_a_strided_view():
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 10))
    expected = c[:, ::2] + a @ b
    fast.gemm_accumulate(a, b, c[:, ::2])
    assert error(expected, c[:, ::2]) < 1e-14


def test_gemm_accumulate_hands_blas_no_copies():
    pytest.importorskip("scipy")
    # what gemm_accumulate passes to ?gemm for every layout it meets is Fortran-ordered
    for order in "CF":
        matrix = np.asarray(np.ones((4, 6)), order=order)
        operand, trans = fast._fortran_operand(matrix)
        assert operand.flags.f_contiguous and np.shares_memory(operand, matrix)
        assert (operand.T if trans else operand).shape == (4, 6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_with_scipy_blas_same_numbers(cell, dtype, monkeypatch):
    pytest.importorskip("scipy")
    forward, backward, forward_fast, backward_fast, _ = CELLS[cell]
    args, kwargs, dh = inputs(cell, 3, 6, 4, 5, dtype, seed=5)
    numpy_path = [forward_fast(*args, **kwargs)[0]] + list(backward_fast(dh, forward_fast(*args, **kwargs)[1]))
    monkeypatch.setattr(fast, "USE_SCIPY_BLAS", True)
    h, cache = forward_fast(*args, **kwargs)
    scipy_path = [h] + list(backward_fast(dh, cache))
    teaching = [forward(*args, **kwargs)[0]] + list(backward(dh, forward(*args, **kwargs)[1]))
    for expected, got, other in zip(teaching, scipy_path, numpy_path):
        assert error(expected, got) < TOLERANCE[dtype] and error(other, got) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_by_exp_is_exact_to_rounding(dtype):
    a = np.concatenate([np.linspace(-30, 30, 20001), [-1e4, -800, -100, -1e-20, 0, 1e-20, 100, 800, 1e4]])
    a = a.astype(dtype)
    out = np.empty_like(a)
    with np.errstate(over="ignore"):
        fast._tanh_into(a, out)
    eps = np.finfo(dtype).eps
    assert out.dtype == dtype and np.all(np.abs(out) <= 1)
    assert np.max(np.abs(out.astype(np.float64) - np.tanh(a.astype(np.float64)))) < 4 * eps


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_float32_saturated_inputs_finite_and_silent(cell):
    args, kwargs, dh = inputs(cell, 2, 4, 3, 5, np.float32, seed=6)
    args[0] = args[0] * 1e3  # exp overflows in float32 beyond 88
    h, cache = CELLS[cell][2](*args, **kwargs)  # RuntimeWarning is an error in this suite
    grads = CELLS[cell][3](dh, cache)
    assert all(np.all(np.isfinite(v)) for v in [h, *grads])
    expected = CELLS[cell][0](*args, **kwargs)[0]
    assert error(expected, h) < TOLERANCE[np.float32]


def test_flop_formula():
    assert rnn_flops(64, 50, 128, 128, "lstm") == 6 * 64 * 50 * 256 * 4 * 128
    assert rnn_flops(2, 3, 4, 5, "gru", backward=False) == 2 * 2 * 3 * 9 * 3 * 5


def test_benchmark_runs_on_a_tiny_size():
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    result = compare_numpy_torch(sizes=[(2, 3, 4, 5)], dtypes=[np.float64], cells=("gru",), repeats=3, threads=1)
    row = result["rows"][0]
    assert row["fast"] > 0 and row["torch"] > 0 and row["teaching"] > 0
    for low, median, high in (row["fast_over_torch"], row["share_of_gemm"]):
        assert 0 < low <= median <= high
    assert result["threads"] == {"numpy_blas": 1, "torch": 1}
    assert "6*N*T*(D+H)*G*H" in format_table(result)
    goal_line = format_targets(result, size=(2, 3, 4, 5)).splitlines()[1].split()
    assert goal_line[:3] == ["gru", "float64", "fast/torch"] and goal_line[4] in ("(met)", "(NOT")


def test_blas_limit_sets_and_restores_the_thread_count():
    pytest.importorskip("threadpoolctl")
    before = blas_threads()
    with blas_limit(1):
        assert blas_threads() == 1
    assert blas_threads() == before


def test_recurrence_runs_on_the_configured_blas_threads(monkeypatch):
    pytest.importorskip("threadpoolctl")
    seen = []
    original = fast.gemm_accumulate

    def spy(*args):
        seen.append(blas_threads())
        return original(*args)

    monkeypatch.setattr(fast, "gemm_accumulate", spy)
    args, kwargs, dh = inputs("lstm", 2, 3, 4, 5, np.float64)  # T = 3
    caller = blas_threads()
    with blas_limit(caller):
        fast.lstm_backward_fast(dh, fast.lstm_forward_fast(*args, **kwargs)[1])
    # 3 steps forward and 3 backward on the recurrence's threads; h0^T da_0 for dWh after the loop on the caller's
    assert seen == [fast.RECURRENCE_THREADS] * 6 + [caller]
