"""How the gradient of a loss at the last step reaches earlier hidden states.

When the loss sits at the last step only, the gradient arriving from above is nonzero
at ``t = T-1`` alone, and BPTT carries it back by ``dh_{t-1} = (dh_t * f'(a_t)) @ Wh.T``.
:func:`hidden_gradients_through_time` returns every ``dh_t``;
:func:`gradient_norms_through_time` their sizes, the quantity whose decay or growth
with ``T - 1 - t`` is the vanishing or exploding gradient.

:func:`delay_recall` asks the forward question, how much of the past a state holds: how well
a linear readout of ``h_t`` recovers the input ``u_{t-k}`` of k steps ago; :func:`memory_capacity`
sums it over k (Jaeger 2001, who shows the sum is at most H for i.i.d. inputs).
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
        cache: :class:`rnncourse.rnn.RNNCache` from :func:`rnncourse.rnn.rnn_forward`

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
        cache: :class:`rnncourse.rnn.RNNCache` from :func:`rnncourse.rnn.rnn_forward`

    Returns:
        norms: (T,) with ``norms[T-1]`` the size of ``dh_last`` itself
    """
    dh = hidden_gradients_through_time(dh_last, cache)
    return np.linalg.norm(dh, axis=2).mean(axis=0)


def delay_recall(states, inputs, max_delay, n_train):
    """How well a linear readout of the state recovers each past input: squared correlation by delay.

    For every delay ``k = 0 .. max_delay`` a least-squares readout ``u_{t-k} ~ h_t w + c`` is fitted
    on the steps ``t = max_delay .. max_delay + n_train - 1`` and scored on the steps after them
    by the squared correlation between its prediction and ``u_{t-k}`` (1: recovered exactly,
    0: nothing linear left of that input).

    Args:
        states: (T, H) hidden states ``h_t`` of one long sequence
        inputs: (T,) the scalar inputs ``u_t`` that produced them
        max_delay: int >= 0, the largest delay k
        n_train: int >= H + 1, the steps used to fit each readout; at least H + 1 steps must
            remain after them for the score

    Returns:
        r2: (max_delay + 1,) with ``r2[k]`` the test squared correlation for delay k
    """
    states = as_float_array("states", states)
    inputs = as_float_array("inputs", inputs)
    sizes = check_shapes(states=(states, ("T", "H")), inputs=(inputs, ("T",)))
    T, H = sizes["T"], sizes["H"]
    for name, value, low in (("max_delay", max_delay, 0), ("n_train", n_train, H + 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if T - max_delay - n_train < H + 1:
        raise ValueError(f"states has T = {T} steps; max_delay + n_train + H + 1 = "
                         f"{max_delay + n_train + H + 1} are needed")
    features = np.hstack([states, np.ones((T, 1))])[max_delay:]  # (T - max_delay, H + 1)
    train, test = features[:n_train], features[n_train:]
    # column k holds u_{t-k} for t = max_delay .. T-1: one least-squares solve for all delays
    targets = np.stack([inputs[max_delay - k:T - k] for k in range(max_delay + 1)], axis=1)
    w, *_ = np.linalg.lstsq(train, targets[:n_train], rcond=None)  # (H + 1, max_delay + 1)
    prediction = test @ w - (test @ w).mean(axis=0)
    truth = targets[n_train:] - targets[n_train:].mean(axis=0)
    denominator = (prediction**2).sum(axis=0) * (truth**2).sum(axis=0)
    covariance = (prediction * truth).sum(axis=0)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, covariance**2 / safe, 0.0)


def memory_capacity(r2):
    """Jaeger's (2001) linear memory capacity: the sum of :func:`delay_recall` over the delays.

    Args:
        r2: (K,) squared correlations by delay, each in [0, 1]

    Returns:
        float, ``sum(r2)``; at most H for a state of H units and i.i.d. inputs (up to the
        estimation error of finite test sets)
    """
    r2 = as_float_array("r2", r2)
    check_shapes(r2=(r2, ("K",)))
    return float(r2.sum())
