"""Causal 1-D convolution over time: forward, backward and the receptive field.

A causal convolution reads a sequence like an RNN, batch first, ``x: (N, T, C_in)``, and gives one
output per step, ``y: (N, T, C_out)``. Output ``t`` sees only the inputs ``t, t - d, ..., t - (K-1) d``
(kernel size ``K``, dilation ``d``), so nothing from the future leaks in. Inputs before the start are
zeros (left padding by ``(K - 1) d``), the form of WaveNet (van den Oord et al., 2016) and of the
temporal convolutional networks of Bai, Kolter and Koltun (2018)::

    y[n, t] = b + sum_k x[n, t - (K - 1 - k) d] @ w[k]        (x[n, s] = 0 for s < 0)

The kernel is stored ``w: (K, C_in, C_out)``, tap ``k = K - 1`` on the current step, so that each tap
is an input matrix like an RNN's ``Wx (D, H)``. PyTorch's ``torch.nn.Conv1d`` stores the same kernel
as ``(C_out, C_in, K)`` (``w.transpose(2, 1, 0)``) and computes the same numbers on ``(N, C_in, T)``
with ``padding=0`` after ``torch.nn.functional.pad(x, ((K - 1) * d, 0))``.

A stack of such layers sees the last ``receptive_field(kernel_sizes, dilations)`` inputs and nothing
before them: ``1 + sum_l (K_l - 1) d_l``.
"""
import numpy as np

from rnncourse._validate import as_float_array, check_positive_int


def receptive_field(kernel_sizes, dilations=None):
    """Number of inputs that one output of a stack of causal convolutions depends on.

    Args:
        kernel_sizes: (L,) kernel size K_l >= 1 of each layer, first layer first
        dilations: (L,) dilation d_l >= 1 of each layer; None for all 1

    Returns:
        field: int, ``1 + sum_l (K_l - 1) * d_l``; output t depends on inputs t - field + 1 .. t
            and on no earlier one
    """
    kernel_sizes = list(kernel_sizes)
    if not kernel_sizes:
        raise ValueError("kernel_sizes must name at least one layer, got an empty sequence")
    dilations = [1] * len(kernel_sizes) if dilations is None else list(dilations)
    if len(dilations) != len(kernel_sizes):
        raise ValueError(f"dilations must have one entry per layer: got {len(dilations)} dilations "
                         f"for {len(kernel_sizes)} kernel_sizes")
    for layer, (size, dilation) in enumerate(zip(kernel_sizes, dilations)):
        check_positive_int(f"kernel_sizes[{layer}]", size)
        check_positive_int(f"dilations[{layer}]", dilation)
    return 1 + sum((size - 1) * dilation for size, dilation in zip(kernel_sizes, dilations))


def _check_conv_shapes(x, w, b):
    if x.ndim != 3:
        raise ValueError(f"x must be (N, T, C_in), got shape {x.shape}")
    if w.ndim != 3:
        raise ValueError(f"w must be (K, C_in, C_out), got shape {w.shape}")
    if w.shape[1] != x.shape[2]:
        raise ValueError(f"w must be (K, C_in, C_out) = (K, {x.shape[2]}, C_out) for x {x.shape}, got {w.shape}")
    if b.shape != (w.shape[2],):
        raise ValueError(f"b must be (C_out,) = ({w.shape[2]},), got {b.shape}")
    if w.shape[0] < 1:
        raise ValueError(f"w must have at least one tap, got shape {w.shape}")


def causal_conv1d_forward(x, w, b, dilation=1):
    """Causal 1-D convolution of a batch of sequences (zeros before the first step).

    Args:
        x: (N, T, C_in) input sequences
        w: (K, C_in, C_out) kernel; tap K-1 multiplies the current step, tap k the step
            (K - 1 - k) * dilation earlier
        b: (C_out,) bias
        dilation: int >= 1, the spacing of the taps in steps

    Returns:
        y: (N, T, C_out), ``y[:, t] = b + sum_k x[:, t - (K - 1 - k) * dilation] @ w[k]``
        cache: what ``causal_conv1d_backward`` needs
    """
    x, w, b = as_float_array("x", x), as_float_array("w", w), as_float_array("b", b)
    _check_conv_shapes(x, w, b)
    check_positive_int("dilation", dilation)
    K, T = w.shape[0], x.shape[1]
    pad = (K - 1) * dilation
    padded = np.concatenate([np.zeros((x.shape[0], pad, x.shape[2]), dtype=x.dtype), x], axis=1)
    y = np.broadcast_to(b, (x.shape[0], T, w.shape[2])).copy()
    for k in range(K):
        y += padded[:, k * dilation:k * dilation + T] @ w[k]
    return y, (padded, w, dilation)


def causal_conv1d_backward(dy, cache):
    """Backward pass of ``causal_conv1d_forward``.

    Args:
        dy: (N, T, C_out) gradient of the loss with respect to the output y
        cache: from ``causal_conv1d_forward``

    Returns:
        dx: (N, T, C_in) gradient with respect to x
        dw: (K, C_in, C_out) gradient with respect to w
        db: (C_out,) gradient with respect to b
    """
    padded, w, dilation = cache
    K, C_in, C_out = w.shape
    N, T = padded.shape[0], padded.shape[1] - (K - 1) * dilation
    dy = as_float_array("dy", dy)
    if dy.shape != (N, T, C_out):
        raise ValueError(f"dy must be (N, T, C_out) = {(N, T, C_out)}, got {dy.shape}")
    dpadded = np.zeros_like(padded)
    dw = np.empty_like(w)
    flat_dy = dy.reshape(N * T, C_out)
    for k in range(K):
        window = slice(k * dilation, k * dilation + T)
        dpadded[:, window] += dy @ w[k].T
        dw[k] = padded[:, window].reshape(N * T, C_in).T @ flat_dy
    return dpadded[:, (K - 1) * dilation:], dw, dy.sum(axis=(0, 1))
