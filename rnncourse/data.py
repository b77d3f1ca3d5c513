"""Synthetic sequence tasks generated on the spot (no downloads), for long-range memory.

- :func:`adding_problem`: Hochreiter & Schmidhuber (1997), in the form of Le et al. (2015).
- :func:`copy_task`: remember a short sequence of symbols over a long delay.
"""
import numpy as np


def _count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _generator(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def adding_problem(n, T, rng):
    """The adding problem: add the two marked numbers of a long sequence.

    Feature 0 of every step is uniform in [0, 1); feature 1 is a marker, 1 at exactly two
    steps (one in the first half ``[0, T//2)``, one in the second half ``[T//2, T)``) and 0
    elsewhere. The target is the sum of the two marked values. Predicting the mean 1 always
    gives a mean squared error of ``Var(U1 + U2) = 1/6``: a model must beat that to have learnt.

    Args:
        n: int >= 1, number of sequences
        T: int >= 2, sequence length
        rng: numpy Generator

    Returns:
        x: (n, T, 2) float64 inputs
        y: (n,) float64 targets in [0, 2)
    """
    n, T, rng = _count("n", n, 1), _count("T", T, 2), _generator(rng)
    values = rng.uniform(0.0, 1.0, (n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)
    y = values[rows, first] + values[rows, second]
    return x, y


def copy_task(n, length, delay, n_symbols, rng):
    """The copy task: read ``length`` symbols, wait ``delay`` steps, then write them back.

    Symbols ``0 .. n_symbols-1`` are data, ``n_symbols`` is blank, ``n_symbols + 1`` is
    the cue that asks for the output. Inputs are one-hot.

    Args:
        n: int >= 1, number of sequences
        length: int >= 1, number of symbols to remember
        delay: int >= 0, blank steps between reading and the cue
        n_symbols: int >= 1, size of the data alphabet
        rng: numpy Generator

    Returns:
        x: (n, T, n_symbols + 2) one-hot inputs with ``T = 2 * length + delay + 1``
        y: (n, T) int64 target symbols: blank everywhere except the last ``length`` steps,
            which hold the symbols that were read
    """
    n, length = _count("n", n, 1), _count("length", length, 1)
    delay, n_symbols, rng = _count("delay", delay, 0), _count("n_symbols", n_symbols, 1), _generator(rng)
    blank, cue = n_symbols, n_symbols + 1
    T = 2 * length + delay + 1
    symbols = rng.integers(0, n_symbols, (n, length))
    tokens = np.full((n, T), blank, dtype=np.int64)
    tokens[:, :length] = symbols
    tokens[:, length + delay] = cue
    y = np.full((n, T), blank, dtype=np.int64)
    y[:, T - length:] = symbols
    x = np.eye(n_symbols + 2)[tokens]
    return x, y
