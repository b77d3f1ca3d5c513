"""Load the numpy RNN's parameters into ``torch.nn.RNN`` and compare the two.

torch is optional: it is imported when a function here is called, so
``import rnncourse`` works without it. Install it with ``pip install rnncourse[torch]``.

Layout: ``torch.nn.RNN`` keeps ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H) and
two biases ``bias_ih_l0``, ``bias_hh_l0`` (H,). The numpy layer keeps
``Wx = weight_ih_l0.T`` (D, H), ``Wh = weight_hh_l0.T`` (H, H) and one bias
``b = bias_ih_l0 + bias_hh_l0`` (H,); loading puts ``b`` in ``bias_ih_l0`` and zeros
in ``bias_hh_l0``.
"""
import numpy as np

from ._validate import check_shapes
from .gradcheck import rel_error
from .rnn import rnn_backward, rnn_forward

TORCH_NONLINEARITIES = ("tanh", "relu")  # what torch.nn.RNN offers


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs PyTorch: pip install 'rnncourse[torch]'") from error
    return torch


def default_device():
    """``"cuda"`` when PyTorch sees a GPU, else ``"cpu"``."""
    return "cuda" if _torch().cuda.is_available() else "cpu"


def torch_rnn_from_numpy(Wx, Wh, b, activation="tanh", device=None, dtype=None):
    """Build a ``torch.nn.RNN`` (batch_first, one layer) holding the numpy parameters.

    Args:
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) bias
        activation: ``"tanh"`` or ``"relu"`` (torch.nn.RNN has no sigmoid)
        device: torch device; default :func:`default_device`
        dtype: torch dtype; default float64

    Returns:
        a ``torch.nn.RNN`` module whose outputs equal :func:`rnncourse.rnn.rnn_forward`'s
    """
    torch = _torch()
    if activation not in TORCH_NONLINEARITIES:
        raise ValueError(f"torch.nn.RNN supports activation {TORCH_NONLINEARITIES}, got {activation!r}")
    sizes = check_shapes(Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)))
    device = device or default_device()
    dtype = dtype or torch.float64
    rnn = torch.nn.RNN(sizes["D"], sizes["H"], nonlinearity=activation, batch_first=True)
    rnn = rnn.to(device=device, dtype=dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(np.asarray(Wx).T))
        rnn.weight_hh_l0.copy_(torch.as_tensor(np.asarray(Wh).T))
        rnn.bias_ih_l0.copy_(torch.as_tensor(np.asarray(b)))
        rnn.bias_hh_l0.zero_()
    return rnn


def torch_rnn_forward_backward(x, h0, Wx, Wh, b, dh, activation="tanh", device=None, dtype=None):
    """Forward and backward pass of ``torch.nn.RNN`` on numpy inputs.

    Args:
        x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) as for ``rnn_forward``
        dh: (N, T, H) upstream gradient on every hidden state
        activation, device, dtype: as for :func:`torch_rnn_from_numpy`

    Returns:
        dict of numpy float64 arrays in the numpy layout:
        ``h`` (N, T, H), ``dx`` (N, T, D), ``dh0`` (N, H), ``dWx`` (D, H), ``dWh`` (H, H), ``db`` (H,)
    """
    torch = _torch()
    check_shapes(x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), dh=(dh, ("N", "T", "H")))
    rnn = torch_rnn_from_numpy(Wx, Wh, b, activation, device, dtype)
    param = next(rnn.parameters())
    x_t = torch.tensor(np.asarray(x), dtype=param.dtype, device=param.device, requires_grad=True)
    h0_t = torch.tensor(np.asarray(h0)[None], dtype=param.dtype, device=param.device, requires_grad=True)
    h_t, _ = rnn(x_t, h0_t)
    h_t.backward(torch.as_tensor(np.asarray(dh), dtype=param.dtype, device=param.device))

    def to_numpy(tensor):
        return tensor.detach().cpu().double().numpy()

    return {
        "h": to_numpy(h_t),
        "dx": to_numpy(x_t.grad),
        "dh0": to_numpy(h0_t.grad[0]),
        "dWx": to_numpy(rnn.weight_ih_l0.grad).T,
        "dWh": to_numpy(rnn.weight_hh_l0.grad).T,
        "db": to_numpy(rnn.bias_ih_l0.grad),
    }


def compare_rnn_with_torch(x, h0, Wx, Wh, b, dh, activation="tanh", device=None, dtype=None):
    """Relative error between the numpy layer and ``torch.nn.RNN`` for each output.

    Arguments as for :func:`torch_rnn_forward_backward`. Returns a dict
    ``{"h": err, "dx": err, "dh0": err, "dWx": err, "dWh": err, "db": err}``.
    """
    h, cache = rnn_forward(x, h0, Wx, Wh, b, activation)
    ours = dict(zip(("dx", "dh0", "dWx", "dWh", "db"), rnn_backward(dh, cache)), h=h)
    theirs = torch_rnn_forward_backward(x, h0, Wx, Wh, b, dh, activation, device, dtype)
    return {name: rel_error(ours[name], theirs[name]) for name in theirs}
