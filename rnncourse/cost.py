"""Measuring what a computation costs as sequences get longer (chapter 7).

- :func:`peak_bytes`: the peak of the memory allocated while a call runs (``tracemalloc``,
  which numpy reports its arrays to), above what was allocated before it.
- :func:`cost_against_length`: time (shortest of interleaved rounds) and peak memory of a
  computation for each sequence length ``T``.
- :func:`fit_power_law` and :func:`fit_exponential`: least-squares fits of ``cost ~ c * T**p``
  and ``cost ~ c * exp(r * T)`` in logarithms, with the spread of the residuals, so that the
  data can say which law they follow; :func:`crossover_length`: where one cost curve overtakes
  another.
- :func:`truncated_bptt_chunks`: truncated BPTT that runs forward and backward one chunk at a
  time and keeps only that chunk's cache, so that its memory does not grow with ``T``.

Timings depend on the machine and its load; the fits make the scaling law visible without
trusting any single timing.
"""
import time
import tracemalloc
from typing import NamedTuple

import numpy as np

from ._validate import check_positive_int, validate
from .fast import rnn_backward_fast, rnn_forward_fast


def peak_bytes(fn):
    """Run ``fn()`` and measure the peak of the memory allocated meanwhile.

    Counts what Python and numpy allocate through ``tracemalloc`` (numpy's array buffers
    included) above what was allocated when the call began; memory that BLAS allocates
    internally is not seen. Tracing slows the call down, so time it separately.

    Args:
        fn: a function of no arguments

    Returns:
        result: what ``fn()`` returned
        peak: int, bytes
    """
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if started_here:
            tracemalloc.stop()
    return result, int(peak)


class LengthCost(NamedTuple):
    """Cost of one computation for several sequence lengths (the result of :func:`cost_against_length`)."""

    lengths: np.ndarray  # (L,) the sequence lengths T
    seconds: np.ndarray  # (L,) shortest wall-clock seconds of one call over the rounds
    peak_bytes: np.ndarray  # (L,) peak memory allocated during one call


def cost_against_length(make_call, lengths, rounds=3, warmup=1):
    """Time and peak memory of a computation at each sequence length.

    The timings run in interleaved rounds: each round calls the computation once at every
    length, and a length keeps its shortest time over the rounds. A burst of other work on the
    machine then slows one call of one round, not all calls of one length, and the shortest
    time is the one least disturbed. The memory is measured afterwards, one traced call per
    length (:func:`peak_bytes`).

    Args:
        make_call: function ``T -> fn``, where ``fn()`` runs the computation once on length ``T``
            (make the inputs in ``make_call``, so that neither the time nor the memory counts them)
        lengths: sequence of integers >= 1
        rounds: timed calls per length (integer >= 1)
        warmup: untimed rounds before them (integer >= 0)

    Returns:
        :class:`LengthCost` with ``lengths`` (L,), ``seconds`` (L,) and ``peak_bytes`` (L,)
    """
    lengths = [check_positive_int("lengths", T) for T in lengths]
    check_positive_int("rounds", rounds)
    check_positive_int("warmup", warmup, minimum=0)
    calls = [make_call(T) for T in lengths]
    for _ in range(warmup):
        for fn in calls:
            fn()
    seconds = np.full(len(calls), np.inf)
    for _ in range(rounds):
        for i, fn in enumerate(calls):
            start = time.perf_counter()
            fn()
            seconds[i] = min(seconds[i], time.perf_counter() - start)
    peaks = [peak_bytes(fn)[1] for fn in calls]
    return LengthCost(np.array(lengths), seconds, np.array(peaks))


class GrowthFit(NamedTuple):
    """A straight line fitted to ``log(cost)``: ``log(cost) = intercept + rate * u``.

    For :func:`fit_power_law` ``u = log(T)`` and ``rate`` is the exponent p of ``T**p``; for
    :func:`fit_exponential` ``u = T`` and ``rate`` is r of ``exp(r * T)``.
    """

    rate: float
    intercept: float
    rms_residual: float  # root mean square of log(cost) - fit: 0.1 means the fit is off by about 10 %


def _checked_curve(x, y):
    """(x, y) as two float arrays of the same (L,) shape with L >= 3 and all values > 0."""
    (x, y), sizes = validate(x=(x, ("L",)), y=(y, ("L",)))
    if sizes["L"] < 3:
        raise ValueError(f"x and y must have at least 3 points to fit and judge a line, got {sizes['L']}")
    for name, values in (("x", x), ("y", y)):
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"{name} must be finite and > 0 (its logarithm is fitted), got min {values.min()}")
    return x, y


def _line(u, log_y):
    """Least-squares line of ``log_y`` against ``u`` as a :class:`GrowthFit`."""
    rate, intercept = np.polyfit(u, log_y, 1)
    residual = log_y - (intercept + rate * u)
    return GrowthFit(float(rate), float(intercept), float(np.sqrt(np.mean(residual**2))))


def fit_power_law(x, y):
    """Fit ``y ~ c * x**p`` (a straight line in log-log axes).

    Args:
        x: (L,) sizes, e.g. sequence lengths, all > 0, L >= 3
        y: (L,) costs, all > 0

    Returns:
        :class:`GrowthFit` with ``rate`` = p (1 for linear growth, 2 for quadratic)
    """
    x, y = _checked_curve(x, y)
    return _line(np.log(x), np.log(y))


def fit_exponential(x, y):
    """Fit ``y ~ c * exp(r * x)`` (a straight line of ``log(y)`` against ``x``).

    Args:
        x: (L,) sizes, all > 0, L >= 3
        y: (L,) costs, all > 0

    Returns:
        :class:`GrowthFit` with ``rate`` = r; the cost would double every ``log(2) / r`` steps
    """
    x, y = _checked_curve(x, y)
    return _line(x, np.log(y))


def crossover_length(lengths, cost_a, cost_b):
    """The length at which ``cost_a`` first becomes larger than ``cost_b``.

    Between the two measured lengths that bracket the first change of sign of
    ``log(cost_a / cost_b)`` (from <= 0 to > 0), the crossing is interpolated linearly in
    ``log T``.

    Args:
        lengths: (L,) increasing sequence lengths, all > 0
        cost_a: (L,) costs of one method, all > 0
        cost_b: (L,) costs of the other, all > 0

    Returns:
        float, or None when ``cost_a`` is already larger at the first length or never becomes larger
    """
    (lengths, cost_a, cost_b), _ = validate(
        lengths=(lengths, ("L",)), cost_a=(cost_a, ("L",)), cost_b=(cost_b, ("L",)))
    for name, values in (("lengths", lengths), ("cost_a", cost_a), ("cost_b", cost_b)):
        if np.any(values <= 0):
            raise ValueError(f"{name} must be > 0, got min {values.min()}")
    if np.any(np.diff(lengths) <= 0):
        raise ValueError(f"lengths must be increasing, got {lengths.tolist()}")
    gap = np.log(cost_a) - np.log(cost_b)
    if gap[0] > 0:
        return None
    above = np.flatnonzero(gap > 0)
    if above.size == 0:
        return None
    i = above[0]
    u0, u1 = np.log(lengths[i - 1]), np.log(lengths[i])
    u = u0 + (u1 - u0) * (0 - gap[i - 1]) / (gap[i] - gap[i - 1])
    return float(np.exp(u))


def truncated_bptt_chunks(x, h0, Wx, Wh, b, dh, truncation):
    """Truncated BPTT that holds one chunk at a time: memory bounded by the chunk, not by T.

    The sequence is cut into chunks of ``truncation`` steps, ``[0, k), [k, 2k), ...``. Each
    chunk is run forwards from the state the previous chunk ended in
    (:func:`rnncourse.fast.rnn_forward_fast`) and at once backwards
    (:func:`rnncourse.fast.rnn_backward_fast`); its cache is then dropped. The weights'
    gradients equal those of :func:`rnncourse.rnn.rnn_backward_truncated`, which needs the
    cache of the whole sequence. The input gradients ``dx`` (N, T, D) are not kept, since
    they would grow with T again (a layer on top of another one would need them).

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, H), Wh: (H, H), b: (H,) the parameters of a tanh RNN
        dh: (N, T, H) gradient of the loss with respect to every hidden state
        truncation: chunk length k >= 1

    Returns:
        dWx: (D, H), dWh: (H, H), db: (H,) summed over the chunks
        h_last: (N, H) the state after the last step
    """
    k = check_positive_int("truncation", truncation)
    (x, h0, Wx, Wh, b, dh), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")),
        b=(b, ("H",)), dh=(dh, ("N", "T", "H")))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    h_prev = h0
    for start in range(0, sizes["T"], k):
        h, cache = rnn_forward_fast(x[:, start:start + k], h_prev, Wx, Wh, b)
        _, _, dWx_c, dWh_c, db_c = rnn_backward_fast(dh[:, start:start + k], cache)
        dWx += dWx_c
        dWh += dWh_c
        db += db_c
        h_prev = h[:, -1].copy()  # a copy, so that the chunk's buffer can be freed
    return dWx, dWh, db, h_prev
