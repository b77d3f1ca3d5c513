"""Input validation shared by the numpy reference code.

Every public function checks its arguments with :func:`check_shapes`, so a wrong
shape gives a ``ValueError`` that names the argument, the shape it got and the
shape it expected, instead of a broadcast that silently computes something else.
"""
import numpy as np


def as_float_array(name, value):
    """Return ``value`` as a numpy array of floats (float arrays keep their dtype).

    Integer and boolean input is converted to float64; anything that is not
    numeric raises ``ValueError`` naming ``name``.
    """
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "iub":
        return array.astype(np.float64)
    raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")


def check_shapes(**arguments):
    """Check that arrays have the named shapes and that the names agree.

    Each keyword is ``name=(array, dims)`` where ``dims`` is a tuple of dimension
    names such as ``("N", "D")``. The first array that uses a dimension name fixes
    its size; every later use must match, and a mismatch's message names the
    argument that fixed the size. Returns the dict ``{dim name: size}``.

    >>> check_shapes(x=(np.zeros((2, 3)), ("N", "D")), Wx=(np.zeros((3, 4)), ("D", "H")))
    {'N': 2, 'D': 3, 'H': 4}
    """
    sizes, source = {}, {}
    for name, (array, dims) in arguments.items():
        shape = np.shape(array)
        expected = "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")
        if len(shape) != len(dims):
            raise ValueError(
                f"{name} must have {len(dims)} dimensions {expected}, got shape {shape}"
            )
        for dim, size in zip(dims, shape):
            sizes.setdefault(dim, size)
            source.setdefault(dim, f"{name} {shape}")
        wanted = tuple(sizes[dim] for dim in dims)
        if shape != wanted:
            known = ", ".join(f"{d}={sizes[d]} from {source[d]}" for d in dict.fromkeys(dims))
            raise ValueError(
                f"{name} must have shape {expected} = {wanted} ({known}), got {shape}"
            )
    return sizes
