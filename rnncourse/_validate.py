"""Input validation shared by the numpy reference code.

Every public function of :mod:`~rnncourse.rnn`, :mod:`~rnncourse.lstm` and
:mod:`~rnncourse.gru` checks its array arguments with one call of :func:`validate`,
the course's single validation idiom::

    (x, h_prev, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "D")), h_prev=(h_prev, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )

It turns every argument into a float array (:func:`as_float_array`) and checks the shapes
(:func:`check_shapes`, or :func:`check_gated_shapes` when a dimension is named like ``"4H"``),
so a wrong dtype or shape gives a ``ValueError`` that names the argument, the shape it got
and the shape it expected, instead of a broadcast that silently computes something else.
Scalar options are checked by :func:`check_positive_int` (a truncation length),
:func:`check_fraction` (a share in (0, 1)) and :func:`check_non_negative` (a penalty, a loss),
random generators by :func:`check_generator`.
"""
import re

import numpy as np

_GATE_DIM = re.compile(r"^(\d+)H$")  # "4H": a gate dimension of 4 blocks of H columns


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


def validate(**arguments):
    """Convert array arguments to float arrays and check their shapes, in one call.

    Each keyword is ``name=(value, dims)`` with ``dims`` a tuple of dimension names such as
    ``("N", "D")``; a name like ``"4H"`` is a gate dimension that must be 4 times H.
    Returns ``(arrays, sizes)``: the converted arrays in the order of the keywords, and the
    dict ``{dim name: size}``. Raises ``ValueError`` naming the first bad argument.

    >>> (x, b), sizes = validate(x=([[1, 2, 3]], ("N", "D")), b=(np.zeros(3), ("D",)))
    >>> x.dtype, sizes
    (dtype('float64'), {'N': 1, 'D': 3})
    """
    arrays = {name: as_float_array(name, value) for name, (value, _) in arguments.items()}
    checked = {name: (arrays[name], dims) for name, (_, dims) in arguments.items()}
    gates = {int(m.group(1)) for _, dims in arguments.values() for d in dims if (m := _GATE_DIM.match(d))}
    if len(gates) > 1:
        raise TypeError(f"validate: one gate dimension per call, got {sorted(gates)}")
    sizes = check_gated_shapes(gates.pop(), **checked) if gates else check_shapes(**checked)
    return list(arrays.values()), sizes


def check_generator(rng, name="rng"):
    """Return ``rng`` if it is a ``numpy.random.Generator``; raise ``ValueError`` naming ``name`` otherwise."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


def check_positive_int(name, value, allow_none=False, minimum=1):
    """Return ``value`` as an int; raise ``ValueError`` naming ``name`` unless it is an
    integer >= ``minimum`` (1 unless told otherwise), or None if allowed (then None is returned)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        wanted = f"None or an integer >= {minimum}" if allow_none else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def _is_number(value):
    """True for a real number (Python or numpy int or float), False for a bool, an array or anything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_positive_float(name, value):
    """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless it is a finite number > 0."""
    if not _is_number(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_fraction(name, value):
    """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless it is a number in (0, 1)."""
    if not _is_number(value) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def check_non_negative(name, value, meaning=""):
    """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless it is a finite
    number >= 0. ``meaning``, if given, is said in the message, e.g. ``"a mean cross-entropy in nats"``."""
    if not _is_number(value) or not np.isfinite(value) or value < 0:
        said = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must be a finite number >= 0{said}, got {value!r}")
    return float(value)


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


def check_gated_shapes(gates, **arguments):
    """:func:`check_shapes` for a gated layer, whose weights have a
    gate dimension named ``f"{gates}H"`` (``"4H"`` for the LSTM, ``"3H"`` for the GRU).

    Besides what ``check_shapes`` checks, the gate dimension must be ``gates`` times H.
    The arguments are checked in order; the first one that makes both H and the gate
    dimension known is the one a mismatch blames, with the argument that fixed H.
    Returns the dict ``{dim name: size}``.
    """
    gate_dim = f"{gates}H"
    names = list(arguments)
    for count, name in enumerate(names, start=1):
        sizes = check_shapes(**{k: arguments[k] for k in names[:count]})
        if "H" in sizes and gate_dim in sizes:
            if sizes[gate_dim] != gates * sizes["H"]:
                array, dims = arguments[name]
                h_source = next(k for k in names[:count] if "H" in arguments[k][1])
                expected = tuple(gates * sizes["H"] if d == gate_dim else sizes[d] for d in dims)
                shown = "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")
                raise ValueError(
                    f"{name} must have shape {shown} = {expected} ({gate_dim} = {gates} * H with "
                    f"H={sizes['H']} from {h_source} {np.shape(arguments[h_source][0])}: {gates} gates "
                    f"of H columns each), got {np.shape(array)}"
                )
            break
    return check_shapes(**arguments)
