"""Gradient clipping: rescale a whole set of gradients, or cut every entry.

A set of gradients ``grads`` is a dict ``{name: array}`` or a tuple/list of arrays
(any shapes, e.g. ``dWx (D, H)``, ``dWh (H, H)``, ``db (H,)``). The functions return
a new container of the same type with new arrays; the input is never modified.

- :func:`global_norm`: the L2 norm of all entries of all arrays together.
- :func:`clip_grad_norm`: scale every array by the same factor so that the global norm
  is at most ``max_norm`` (Pascanu et al. 2013). The direction of the update is kept.
- :func:`clip_grad_value`: cut every entry to ``[-clip_value, clip_value]``. The
  direction changes whenever some entries are cut and others are not.
"""
import numpy as np

from ._validate import as_float_array

EPS = 1e-6  # added to the norm in the clipping factor, as torch.nn.utils.clip_grad_norm_ does


def _arrays(grads):
    """(keys or None, list of float arrays) of a dict, tuple or list of arrays."""
    if isinstance(grads, dict):
        keys = list(grads)
        return keys, [as_float_array(f"grads[{k!r}]", grads[k]) for k in keys]
    if isinstance(grads, (tuple, list)):
        return None, [as_float_array(f"grads[{i}]", g) for i, g in enumerate(grads)]
    raise ValueError(f"grads must be a dict, tuple or list of arrays, got {type(grads).__name__}")


def _rebuild(grads, keys, arrays):
    if keys is not None:
        return dict(zip(keys, arrays))
    return list(arrays) if isinstance(grads, list) else tuple(arrays)


def _positive(name, value):
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def global_norm(grads):
    """The L2 norm of all entries of all gradients together.

    Args:
        grads: dict name -> array, or tuple/list of arrays (any shapes)

    Returns:
        total_norm: float, ``sqrt(sum over arrays of sum(g**2))``
    """
    _, arrays = _arrays(grads)
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in arrays)))


def clip_grad_norm(grads, max_norm):
    """Rescale gradients so that their global L2 norm is at most ``max_norm``.

    Every array is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``: the same
    factor for all, so the direction of the whole update is unchanged.

    Args:
        grads: dict name -> array, or tuple/list of arrays (any shapes); not modified
        max_norm: positive float, the largest global norm allowed

    Returns:
        clipped: same container type and shapes as ``grads``, new arrays
        total_norm: float, the global norm *before* clipping
    """
    max_norm = _positive("max_norm", max_norm)
    keys, arrays = _arrays(grads)
    total_norm = global_norm(grads)
    scale = min(1.0, max_norm / (total_norm + EPS))
    return _rebuild(grads, keys, [g * scale for g in arrays]), total_norm


def clip_grad_value(grads, clip_value):
    """Cut every entry of every gradient to the interval ``[-clip_value, clip_value]``.

    Args:
        grads: dict name -> array, or tuple/list of arrays (any shapes); not modified
        clip_value: positive float

    Returns:
        clipped: same container type and shapes as ``grads``, new arrays
    """
    clip_value = _positive("clip_value", clip_value)
    keys, arrays = _arrays(grads)
    return _rebuild(grads, keys, [np.clip(g, -clip_value, clip_value) for g in arrays])
