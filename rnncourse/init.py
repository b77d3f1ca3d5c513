"""Weight initialisations for recurrent layers, and the spectral radius.

Every function returns a new float64 array. ``rng`` is a ``numpy.random.Generator``
(``np.random.default_rng(seed)``): the same seed gives the same weights.

- :func:`xavier_uniform`, :func:`xavier_normal`: Glorot & Bengio (2010), variance
  ``2 / (fan_in + fan_out)``; for ``Wx (D, H)`` use ``fan_in=D, fan_out=H``.
- :func:`orthogonal`: a random orthogonal matrix (Saxe et al. 2014), drawn uniformly
  (Haar measure) by the QR decomposition of a Gaussian matrix with the sign fix.
- :func:`identity`: ``scale * I``, the IRNN initialisation of Le et al. (2015).
- :func:`spectral_radius`: the largest absolute eigenvalue of a square matrix.
"""
import numpy as np

from ._validate import as_float_array, check_generator, check_shapes


def _size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def xavier_uniform(fan_in, fan_out, rng):
    """Glorot/Xavier uniform initialisation.

    Args:
        fan_in: int >= 1, number of rows (inputs of the layer)
        fan_out: int >= 1, number of columns (outputs of the layer)
        rng: numpy Generator

    Returns:
        W: (fan_in, fan_out) entries uniform in ``[-a, a]``, ``a = sqrt(6 / (fan_in + fan_out))``
    """
    fan_in, fan_out = _size("fan_in", fan_in), _size("fan_out", fan_out)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return check_generator(rng).uniform(-limit, limit, (fan_in, fan_out))


def xavier_normal(fan_in, fan_out, rng):
    """Glorot/Xavier normal initialisation.

    Args:
        fan_in: int >= 1, fan_out: int >= 1, rng: numpy Generator

    Returns:
        W: (fan_in, fan_out) entries normal with mean 0 and std ``sqrt(2 / (fan_in + fan_out))``
    """
    fan_in, fan_out = _size("fan_in", fan_in), _size("fan_out", fan_out)
    return check_generator(rng).standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def orthogonalize(A, gain=1.0):
    """The orthogonal factor Q of ``A = Q R`` with the signs fixed so that ``diag(R) > 0``.

    Without the sign fix, ``np.linalg.qr`` of a Gaussian matrix does not give a uniformly
    distributed orthogonal matrix. Multiplying column j of Q by ``sign(R[j, j])`` does.

    Args:
        A: (n, n) matrix of full rank, not modified
        gain: float, the result is ``gain * Q``

    Returns:
        W: (n, n) with ``W @ W.T = gain**2 * I``
    """
    A = as_float_array("A", A)
    check_shapes(A=(A, ("n", "n")))
    Q, R = np.linalg.qr(A)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return gain * (Q * signs)


def orthogonal(n, rng, gain=1.0):
    """A random orthogonal matrix, uniform over the orthogonal group (times ``gain``).

    Draws ``A = rng.standard_normal((n, n))`` and returns :func:`orthogonalize` ``(A, gain)``.

    Args:
        n: int >= 1, size
        rng: numpy Generator
        gain: float, scale of the result (every singular value equals ``abs(gain)``)

    Returns:
        W: (n, n) with ``W @ W.T = gain**2 * I``
    """
    n = _size("n", n)
    return orthogonalize(check_generator(rng).standard_normal((n, n)), gain)


def identity(n, scale=1.0):
    """The IRNN initialisation of Le et al. (2015): ``scale`` times the identity.

    Args:
        n: int >= 1, size
        scale: float

    Returns:
        W: (n, n) ``scale * I``
    """
    return float(scale) * np.eye(_size("n", n))


def spectral_radius(W):
    """Largest absolute eigenvalue of a square matrix.

    Args:
        W: (n, n)

    Returns:
        float ``max |eigenvalue(W)|``
    """
    W = as_float_array("W", W)
    check_shapes(W=(W, ("n", "n")))
    return float(np.max(np.abs(np.linalg.eigvals(W))))
