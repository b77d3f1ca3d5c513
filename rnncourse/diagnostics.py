"""How the gradient of a loss at the last step reaches earlier hidden states.

When the loss sits at the last step only, the gradient arriving from above is nonzero
at ``t = T-1`` alone, and BPTT carries it back by ``dh_{t-1} = (dh_t * f'(a_t)) @ Wh.T``.
:func:`hidden_gradients_through_time` returns every ``dh_t``;
:func:`gradient_norms_through_time` their sizes, the quantity whose decay or growth
with ``T - 1 - t`` is the vanishing or exploding gradient.
"""
import numpy as np

from ._validate import as_float_array, check_shapes
from .rnn import rnn_step_backward, step_cache


def hidden_gradients_through_time(dh_last, cache):
    """The total gradient dL/dh_t for every t when the loss depends on the last state only.

    Runs the BPTT loop with :func:`rnncourse.rnn.rnn_step_backward`, the gradient from
    above being ``dh_last`` at ``t = T-1`` and zero elsewhere.

    Args:
        dh_last: (N, H) gradient of the loss with respect to the last hidden state h[:, T-1]
        cache: :class:`rnncourse.rnn.SequenceCache` from :func:`rnncourse.rnn.rnn_forward`

    Returns:
        dh: (N, T, H) where ``dh[:, t]`` is the gradient of the loss with respect to ``h[:, t]``
    """
    dh_last = as_float_array("dh_last", dh_last)
    sizes = check_shapes(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh_last=(dh_last, ("N", "H")))
    T = sizes["T"]
    dh = np.zeros(cache.h.shape, dtype=np.result_type(cache.h, dh_last))
    current = dh_last
    for t in reversed(range(T)):
        dh[:, t] = current
        _, current, _, _, _ = rnn_step_backward(current, step_cache(cache, t))
    return dh


def gradient_norms_through_time(dh_last, cache):
    """Size of dL/dh_t for every t when the loss depends on the last state only.

    The size at step t is the L2 norm over the H units of each example's gradient,
    averaged over the N examples of the batch:
    ``norms[t] = mean over n of ||dh[n, t, :]||``.

    Args:
        dh_last: (N, H) gradient of the loss with respect to the last hidden state
        cache: :class:`rnncourse.rnn.SequenceCache` from :func:`rnncourse.rnn.rnn_forward`

    Returns:
        norms: (T,) with ``norms[T-1]`` the size of ``dh_last`` itself
    """
    dh = hidden_gradients_through_time(dh_last, cache)
    return np.linalg.norm(dh, axis=2).mean(axis=0)
