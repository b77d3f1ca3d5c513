"""Tests of rnncourse.cost: peak memory, cost against length, growth fits, crossover, chunked truncated BPTT."""
import re
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncourse import cost
from rnncourse.gradcheck import rel_error
from rnncourse.rnn import rnn_forward, rnn_backward_truncated


def raises(match, f, *args, **kwargs):
    with pytest.raises(ValueError, match=re.escape(match)):
        f(*args, **kwargs)


def test_peak_bytes_sees_a_temporary_array_and_returns_the_result():
    def make_and_drop():
        big = np.ones(1_000_000)  # 8 MB, freed before returning
        return float(big.sum())

    result, peak = cost.peak_bytes(make_and_drop)
    assert result == 1e6
    assert 8_000_000 <= peak < 8_200_000


def test_peak_bytes_counts_only_what_is_allocated_during_the_call():
    kept = np.ones(2_000_000)  # allocated before: not counted
    _, peak = cost.peak_bytes(lambda: kept.sum())
    assert peak < 100_000


def test_cost_against_length_measures_linear_memory():
    def make_call(T):
        return lambda: np.zeros((T, 1000))

    result = cost.cost_against_length(make_call, [10, 20, 40], rounds=1, warmup=0)
    assert result.lengths.tolist() == [10, 20, 40]
    assert np.all(result.seconds > 0)
    np.testing.assert_allclose(result.peak_bytes / (8000 * result.lengths), 1, rtol=0.01)


def test_cost_against_length_validation():
    raises("lengths must be an integer >= 1, got 0", cost.cost_against_length, lambda T: None, [0, 1])
    raises("rounds must be an integer >= 1, got 0", cost.cost_against_length, lambda T: None, [1], rounds=0)


def test_cost_against_length_keeps_the_shortest_time_of_interleaved_rounds():
    order = []
    durations = iter([0.0, 0.02, 0.0, 0.0, 0.0])  # the first timed call of length 1 is slowed down

    def make_call(T):
        def run():
            order.append(T)
            time.sleep(next(durations) if T == 1 else 0.0)
        return run

    result = cost.cost_against_length(make_call, [1, 2], rounds=3, warmup=1)
    assert order[:8] == [1, 2, 1, 2, 1, 2, 1, 2]  # warm-up round, then rounds over all lengths
    assert result.seconds[0] < 0.01


@settings(max_examples=30, deadline=None)
@given(st.floats(0.2, 3.0), st.floats(1e-6, 10.0))
def test_power_law_fit_recovers_the_exponent(p, c):
    T = np.array([16, 32, 64, 128, 256, 512])
    fit = cost.fit_power_law(T, c * T**p)
    assert abs(fit.rate - p) < 1e-9 and fit.rms_residual < 1e-9
    assert abs(np.exp(fit.intercept) - c) < 1e-6 * c


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-3, 0.05))
def test_exponential_fit_recovers_the_rate(r):
    T = np.arange(10, 200, 20)
    fit = cost.fit_exponential(T, 0.5 * np.exp(r * T))
    assert abs(fit.rate - r) < 1e-9 and fit.rms_residual < 1e-9


def test_the_right_law_fits_better():
    T = np.array([16, 64, 256, 1024, 4096])
    linear, exponential = 1e-4 * T, 1e-4 * np.exp(T / 512)
    assert cost.fit_power_law(T, linear).rms_residual < 0.01 < cost.fit_exponential(T, linear).rms_residual
    assert cost.fit_exponential(T, exponential).rms_residual < 0.01 < cost.fit_power_law(T, exponential).rms_residual


def test_fit_validation():
    raises("x and y must have at least 3 points", cost.fit_power_law, [1, 2], [1, 2])
    raises("y must be finite and > 0", cost.fit_exponential, [1, 2, 3], [1, 0, 2])
    raises("y must have shape (L,) = (3,)", cost.fit_power_law, [1, 2, 3], [1, 2])


def test_crossover_length_interpolates_in_log_length():
    T = np.array([10, 100, 1000])
    quadratic, linear = T**2 / 100.0, T * 1.0  # equal at T = 100, quadratic above after
    assert cost.crossover_length(T, quadratic, linear) == pytest.approx(100.0)
    assert cost.crossover_length(T, 2.0 * T**2, 1000.0 * T) == pytest.approx(500.0)  # equal at 500
    assert cost.crossover_length(T, linear, quadratic) is None  # larger at the start already
    assert cost.crossover_length(T, linear / 2, linear) is None  # never larger


def test_crossover_validation():
    raises("lengths must be increasing", cost.crossover_length, [3, 2, 4], [1, 1, 1], [1, 1, 1])
    raises("cost_b must be > 0", cost.crossover_length, [1, 2, 3], [1, 1, 1], [1, 0, 1])


def rnn_case(seed, N=3, T=23, D=4, H=5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)) * 0.5,
            rng.standard_normal((D, H)) / 2, rng.standard_normal((H, H)) / 2, rng.standard_normal(H) * 0.1,
            rng.standard_normal((N, T, H)))


@pytest.mark.parametrize("truncation", [1, 5, 23, 100])
def test_chunked_truncated_bptt_equals_the_whole_sequence_version(truncation):
    x, h0, Wx, Wh, b, dh = rnn_case(7)
    dWx, dWh, db, h_last = cost.truncated_bptt_chunks(x, h0, Wx, Wh, b, dh, truncation)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    expected = rnn_backward_truncated(dh, cache, truncation)
    for got, want in zip((dWx, dWh, db), expected[2:]):
        assert rel_error(got, want) < 1e-12
    np.testing.assert_allclose(h_last, h[:, -1], rtol=1e-13)


def test_chunked_truncated_bptt_memory_does_not_grow_with_length():
    from rnncourse.fast import rnn_backward_fast, rnn_forward_fast

    def full_bptt(x, h0, Wx, Wh, b, dh):
        return rnn_backward_fast(dh, rnn_forward_fast(x, h0, Wx, Wh, b)[1])

    chunked, full = {}, {}
    for T in (400, 1600):
        x, h0, Wx, Wh, b, dh = rnn_case(8, N=16, T=T, D=32, H=32)
        chunked[T] = cost.peak_bytes(lambda: cost.truncated_bptt_chunks(x, h0, Wx, Wh, b, dh, 10))[1]
        full[T] = cost.peak_bytes(lambda: full_bptt(x, h0, Wx, Wh, b, dh))[1]
    # whole-sequence BPTT: 4 times the length, about 4 times the memory; chunks: about the same
    assert 3.5 < full[1600] / full[400] < 4.1
    assert chunked[1600] < 1.5 * chunked[400] and chunked[1600] < 0.05 * full[1600]


def test_chunked_truncated_bptt_validation_and_no_mutation():
    x, h0, Wx, Wh, b, dh = rnn_case(9)
    before = [a.copy() for a in (x, h0, Wx, Wh, b, dh)]
    cost.truncated_bptt_chunks(x, h0, Wx, Wh, b, dh, 4)
    for a, a0 in zip((x, h0, Wx, Wh, b, dh), before):
        np.testing.assert_array_equal(a, a0)
    raises("truncation must be an integer >= 1, got 0", cost.truncated_bptt_chunks, x, h0, Wx, Wh, b, dh, 0)
    raises("dh must have shape (N, T, H) = (3, 23, 5)", cost.truncated_bptt_chunks, x, h0, Wx, Wh, b,
           dh[:, :-1], 4)
