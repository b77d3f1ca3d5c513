"""Load the numpy RNN's parameters into ``torch.nn.RNN`` and compare the two
(and the same for the LSTM with ``torch.nn.LSTM`` and the GRU with ``torch.nn.GRU``,
whose layouts are described above :func:`torch_lstm_from_numpy`).

torch is optional: it is imported when a function here is called, so
``import rnncourse`` works without it. Install it with ``pip install rnncourse[torch]``.

Layout: ``torch.nn.RNN`` keeps ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H) and
two biases ``bias_ih_l0``, ``bias_hh_l0`` (H,). The numpy layer keeps
``Wx = weight_ih_l0.T`` (D, H), ``Wh = weight_hh_l0.T`` (H, H) and one bias
``b = bias_ih_l0 + bias_hh_l0`` (H,); loading puts ``b`` in ``bias_ih_l0`` and zeros
in ``bias_hh_l0``.
"""
import numpy as np

from ._validate import check_gated_shapes, check_shapes
from .gradcheck import rel_error
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
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


# ----------------------------------------------------------------------------
# LSTM and GRU
#
# torch.nn.LSTM keeps weight_ih_l0 (4H, D), weight_hh_l0 (4H, H) and two biases (4H,),
# gate blocks i, f, g, o; torch.nn.GRU the same with 3H rows, gate blocks r, z, n.
# The numpy LSTM keeps Wx = weight_ih_l0.T, Wh = weight_hh_l0.T and b = bias_ih + bias_hh
# (loading puts b in bias_ih_l0 and zeros in bias_hh_l0); the numpy GRU keeps both biases,
# bx = bias_ih_l0 and bh = bias_hh_l0, because bh's n block is multiplied by the reset gate.
# ----------------------------------------------------------------------------

def _torch_gated_from_numpy(module_class, gates, Wx, Wh, bias_ih, bias_hh, device, dtype):
    torch = _torch()
    dims = {"Wx": (Wx, ("D", f"{gates}H")), "Wh": (Wh, ("H", f"{gates}H")), "b": (bias_ih, (f"{gates}H",))}
    if bias_hh is not None:
        dims = {"Wx": dims["Wx"], "Wh": dims["Wh"], "bx": (bias_ih, (f"{gates}H",)),
                "bh": (bias_hh, (f"{gates}H",))}
    sizes = check_gated_shapes(gates, **dims)
    device = device or default_device()
    dtype = dtype or torch.float64
    module = module_class(sizes["D"], sizes["H"], batch_first=True).to(device=device, dtype=dtype)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.as_tensor(np.asarray(Wx).T))
        module.weight_hh_l0.copy_(torch.as_tensor(np.asarray(Wh).T))
        module.bias_ih_l0.copy_(torch.as_tensor(np.asarray(bias_ih)))
        if bias_hh is None:
            module.bias_hh_l0.zero_()
        else:
            module.bias_hh_l0.copy_(torch.as_tensor(np.asarray(bias_hh)))
    return module


def torch_lstm_from_numpy(Wx, Wh, b, device=None, dtype=None):
    """Build a ``torch.nn.LSTM`` (batch_first, one layer) holding the numpy parameters.

    Args:
        Wx: (D, 4H) input-to-hidden weights, gate blocks i, f, g, o
        Wh: (H, 4H) hidden-to-hidden weights
        b: (4H,) bias (put in ``bias_ih_l0``; ``bias_hh_l0`` is zero)
        device: torch device; default :func:`default_device`
        dtype: torch dtype; default float64

    Returns:
        a ``torch.nn.LSTM`` module whose outputs equal :func:`rnncourse.lstm.lstm_forward`'s
    """
    return _torch_gated_from_numpy(_torch().nn.LSTM, 4, Wx, Wh, b, None, device, dtype)


def torch_gru_from_numpy(Wx, Wh, bx, bh, device=None, dtype=None):
    """Build a ``torch.nn.GRU`` (batch_first, one layer) holding the numpy parameters.

    Args:
        Wx: (D, 3H) input-to-hidden weights, gate blocks r, z, n
        Wh: (H, 3H) hidden-to-hidden weights
        bx: (3H,) input bias, becomes ``bias_ih_l0``
        bh: (3H,) hidden bias, becomes ``bias_hh_l0``
        device: torch device; default :func:`default_device`
        dtype: torch dtype; default float64

    Returns:
        a ``torch.nn.GRU`` module whose outputs equal :func:`rnncourse.gru.gru_forward`'s
    """
    return _torch_gated_from_numpy(_torch().nn.GRU, 3, Wx, Wh, bx, bh, device, dtype)


def _run_gated(module, x, h0, c0, dh):
    """Forward and backward of an LSTM (c0 given) or GRU (c0 None); gradients as numpy float64."""
    torch = _torch()
    param = next(module.parameters())

    def tensor(array):
        return torch.tensor(np.asarray(array), dtype=param.dtype, device=param.device, requires_grad=True)

    x_t, h0_t = tensor(x), tensor(np.asarray(h0)[None])
    if c0 is None:
        h_t, _ = module(x_t, h0_t)
    else:
        c0_t = tensor(np.asarray(c0)[None])
        h_t, _ = module(x_t, (h0_t, c0_t))
    h_t.backward(torch.as_tensor(np.asarray(dh), dtype=param.dtype, device=param.device))

    def to_numpy(value):
        return value.detach().cpu().double().numpy()

    out = {"h": to_numpy(h_t), "dx": to_numpy(x_t.grad), "dh0": to_numpy(h0_t.grad[0]),
           "dWx": to_numpy(module.weight_ih_l0.grad).T, "dWh": to_numpy(module.weight_hh_l0.grad).T}
    if c0 is not None:
        out["dc0"] = to_numpy(c0_t.grad[0])
    return out, to_numpy(module.bias_ih_l0.grad), to_numpy(module.bias_hh_l0.grad)


def torch_lstm_forward_backward(x, h0, Wx, Wh, b, dh, c0=None, device=None, dtype=None):
    """Forward and backward pass of ``torch.nn.LSTM`` on numpy inputs.

    Args:
        x: (N, T, D), h0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,) as for ``lstm_forward``
        dh: (N, T, H) upstream gradient on every hidden state
        c0: (N, H) initial cell state; default zeros
        device, dtype: as for :func:`torch_lstm_from_numpy`

    Returns:
        dict of numpy float64 arrays in the numpy layout: ``h`` (N, T, H), ``dx`` (N, T, D),
        ``dh0`` (N, H), ``dc0`` (N, H), ``dWx`` (D, 4H), ``dWh`` (H, 4H), ``db`` (4H,)
    """
    check_shapes(x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), dh=(dh, ("N", "T", "H")))
    c0 = np.zeros(np.shape(h0)) if c0 is None else c0
    check_shapes(h0=(h0, ("N", "H")), c0=(c0, ("N", "H")))
    module = torch_lstm_from_numpy(Wx, Wh, b, device, dtype)
    out, db_ih, _ = _run_gated(module, x, h0, c0, dh)
    out["db"] = db_ih  # b sits in bias_ih_l0 (the gradient of bias_hh_l0 is the same)
    return out


def torch_gru_forward_backward(x, h0, Wx, Wh, bx, bh, dh, device=None, dtype=None):
    """Forward and backward pass of ``torch.nn.GRU`` on numpy inputs.

    Args:
        x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx, bh: (3H,) as for ``gru_forward``
        dh: (N, T, H) upstream gradient on every hidden state
        device, dtype: as for :func:`torch_gru_from_numpy`

    Returns:
        dict of numpy float64 arrays in the numpy layout: ``h`` (N, T, H), ``dx`` (N, T, D),
        ``dh0`` (N, H), ``dWx`` (D, 3H), ``dWh`` (H, 3H), ``dbx`` (3H,), ``dbh`` (3H,)
    """
    check_shapes(x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), dh=(dh, ("N", "T", "H")))
    module = torch_gru_from_numpy(Wx, Wh, bx, bh, device, dtype)
    out, out["dbx"], out["dbh"] = _run_gated(module, x, h0, None, dh)
    return out


def compare_lstm_with_torch(x, h0, Wx, Wh, b, dh, c0=None, device=None, dtype=None):
    """Relative error between the numpy LSTM and ``torch.nn.LSTM`` for each output.

    Arguments as for :func:`torch_lstm_forward_backward`. Returns a dict
    ``{"h", "dx", "dh0", "dc0", "dWx", "dWh", "db": err}``.
    """
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    ours = dict(zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), lstm_backward(dh, cache)), h=h)
    theirs = torch_lstm_forward_backward(x, h0, Wx, Wh, b, dh, c0, device, dtype)
    return {name: rel_error(ours[name], theirs[name]) for name in theirs}


def compare_gru_with_torch(x, h0, Wx, Wh, bx, bh, dh, device=None, dtype=None):
    """Relative error between the numpy GRU and ``torch.nn.GRU`` for each output.

    Arguments as for :func:`torch_gru_forward_backward`. Returns a dict
    ``{"h", "dx", "dh0", "dWx", "dWh", "dbx", "dbh": err}``.
    """
    h, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    ours = dict(zip(("dx", "dh0", "dWx", "dWh", "dbx", "dbh"), gru_backward(dh, cache)), h=h)
    theirs = torch_gru_forward_backward(x, h0, Wx, Wh, bx, bh, dh, device, dtype)
    return {name: rel_error(ours[name], theirs[name]) for name in theirs}


# ----------------------------------------------------------------------------
# Chapter 5 layers (rnncourse.layers): embedding, masked cross-entropy, and
# bidirectional / stacked recurrent layers given as parameter dicts by cell name.
#
# A layer's parameters {Wx, Wh, b} (rnn, lstm) or {Wx, Wh, bx, bh} (gru) load into the
# torch module's weight_ih / weight_hh / bias_ih / bias_hh with the suffix of the layer
# and direction: "_l0", "_l0_reverse" (the backward direction), "_l1", ...
# ----------------------------------------------------------------------------

def _to_numpy(tensor):
    return tensor.detach().cpu().double().numpy()


def torch_embedding_forward_backward(tokens, W, dout, device=None, dtype=None):
    """``torch.nn.Embedding`` holding ``W``: forward on ``tokens``, backward of ``dout``.

    Args:
        tokens: (N, T) integers in 0..V-1
        W: (V, D) embedding table
        dout: (N, T, D) upstream gradient
        device: torch device; default :func:`default_device`
        dtype: torch dtype; default float64

    Returns:
        dict of numpy float64 arrays: ``out`` (N, T, D), ``dW`` (V, D)
    """
    torch = _torch()
    sizes = check_shapes(W=(W, ("V", "D")), tokens=(tokens, ("N", "T")), dout=(dout, ("N", "T", "D")))
    device, dtype = device or default_device(), dtype or torch.float64
    embedding = torch.nn.Embedding(sizes["V"], sizes["D"]).to(device=device, dtype=dtype)
    with torch.no_grad():
        embedding.weight.copy_(torch.as_tensor(np.asarray(W)))
    out = embedding(torch.as_tensor(np.asarray(tokens), dtype=torch.long, device=device))
    out.backward(torch.as_tensor(np.asarray(dout), dtype=dtype, device=device))
    return {"out": _to_numpy(out), "dW": _to_numpy(embedding.weight.grad)}


def torch_masked_cross_entropy(scores, targets, mask, ignore_index=-100, device=None, dtype=None):
    """``torch.nn.functional.cross_entropy`` with ``ignore_index`` at the padded positions.

    The targets at the positions where ``mask`` is False are replaced by ``ignore_index``;
    the mean is then over the real tokens, as in ``rnncourse.layers.temporal_softmax_loss``.

    Args:
        scores: (N, T, V) unnormalised scores
        targets: (N, T) integers, in 0..V-1 where ``mask`` is True
        mask: (N, T) bool, True at the real positions
        ignore_index: the target value torch skips
        device, dtype: as for :func:`torch_embedding_forward_backward`

    Returns:
        dict: ``loss`` (float) and ``dscores`` (N, T, V) numpy float64
    """
    torch = _torch()
    sizes = check_shapes(scores=(scores, ("N", "T", "V")), targets=(targets, ("N", "T")), mask=(mask, ("N", "T")))
    device, dtype = device or default_device(), dtype or torch.float64
    scores_t = torch.tensor(np.asarray(scores), dtype=dtype, device=device, requires_grad=True)
    ignored = np.where(np.asarray(mask, dtype=bool), np.asarray(targets), ignore_index)
    targets_t = torch.as_tensor(ignored, dtype=torch.long, device=device)
    loss = torch.nn.functional.cross_entropy(scores_t.reshape(-1, sizes["V"]), targets_t.reshape(-1),
                                             ignore_index=ignore_index)
    loss.backward()
    return {"loss": float(loss.item()), "dscores": _to_numpy(scores_t.grad)}


_TORCH_CELL_MODULES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def _torch_recurrent_module(cell, D, H, num_layers, bidirectional, device, dtype):
    torch = _torch()
    if cell not in _TORCH_CELL_MODULES:
        raise ValueError(f"cell must be one of {tuple(_TORCH_CELL_MODULES)}, got {cell!r}")
    module_class = getattr(torch.nn, _TORCH_CELL_MODULES[cell])
    module = module_class(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    return module.to(device=device or default_device(), dtype=dtype or torch.float64)


def _load_layer(module, suffix, cell, params):
    """Copy one numpy parameter dict into the module's parameters named ``...{suffix}``."""
    torch = _torch()

    def put(name, value):
        getattr(module, name + suffix).copy_(torch.as_tensor(np.asarray(value)))

    with torch.no_grad():
        put("weight_ih", np.asarray(params["Wx"]).T)  # torch keeps (G*H, D), numpy (D, G*H)
        put("weight_hh", np.asarray(params["Wh"]).T)
        if cell == "gru":
            put("bias_ih", params["bx"])
            put("bias_hh", params["bh"])
        else:  # one numpy bias b = bias_ih + bias_hh
            put("bias_ih", params["b"])
            getattr(module, "bias_hh" + suffix).zero_()


def _layer_grads(module, suffix, cell):
    """The gradients of one layer and direction in the numpy layout (dict keyed like its parameters)."""
    grad = {name: _to_numpy(getattr(module, name + suffix).grad)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    grads = {"Wx": grad["weight_ih"].T, "Wh": grad["weight_hh"].T}
    if cell == "gru":
        grads["bx"], grads["bh"] = grad["bias_ih"], grad["bias_hh"]
    else:
        grads["b"] = grad["bias_ih"]  # b sits in bias_ih (bias_hh's gradient is the same)
    return grads


def torch_bidirectional_from_numpy(cell, params_fwd, params_bwd, device=None, dtype=None):
    """A ``torch.nn.RNN``/``GRU``/``LSTM`` with ``bidirectional=True`` (batch_first, one layer).

    Args:
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``
        params_fwd: dict of the forward direction (Wx (D, G*H), Wh (H, G*H), biases), into ``*_l0``
        params_bwd: dict of the backward direction, same shapes, into ``*_l0_reverse``
        device, dtype: as for :func:`torch_rnn_from_numpy`

    Returns:
        the torch module
    """
    D, H = np.shape(params_fwd["Wx"])[0], np.shape(params_fwd["Wh"])[0]
    module = _torch_recurrent_module(cell, D, H, 1, True, device, dtype)
    _load_layer(module, "_l0", cell, params_fwd)
    _load_layer(module, "_l0_reverse", cell, params_bwd)
    return module


def torch_bidirectional_forward_backward(cell, x, lengths, params_fwd, params_bwd, dh, device=None, dtype=None):
    """Forward and backward of a bidirectional torch layer on a padded batch, through
    ``pack_padded_sequence`` and ``pad_packed_sequence`` (so each sequence is read to its own length).

    Args:
        cell, params_fwd, params_bwd, device, dtype: as for :func:`torch_bidirectional_from_numpy`
        x: (N, T, D) padded input sequences
        lengths: (N,) integers in 1..T (any order)
        dh: (N, T, 2H) upstream gradient on the output

    Returns:
        dict: ``h`` (N, T, 2H), ``dx`` (N, T, D) numpy float64, and ``grads_fwd``, ``grads_bwd``
        (dicts in the numpy layout)
    """
    torch = _torch()
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    check_shapes(x=(x, ("N", "T", "D")), lengths=(lengths, ("N",)), dh=(dh, ("N", "T", "2H")))
    module = torch_bidirectional_from_numpy(cell, params_fwd, params_bwd, device, dtype)
    param = next(module.parameters())
    x_t = torch.tensor(np.asarray(x), dtype=param.dtype, device=param.device, requires_grad=True)
    lengths_t = torch.as_tensor(np.asarray(lengths), dtype=torch.long)  # lengths stay on the CPU
    packed = pack_padded_sequence(x_t, lengths_t, batch_first=True, enforce_sorted=False)
    h_packed, _ = module(packed)
    h_t, _ = pad_packed_sequence(h_packed, batch_first=True, total_length=np.shape(x)[1])
    h_t.backward(torch.as_tensor(np.asarray(dh), dtype=param.dtype, device=param.device))
    return {"h": _to_numpy(h_t), "dx": _to_numpy(x_t.grad),
            "grads_fwd": _layer_grads(module, "_l0", cell), "grads_bwd": _layer_grads(module, "_l0_reverse", cell)}


def torch_stacked_forward_backward(cell, x, params_list, dh, device=None, dtype=None):
    """Forward and backward of a torch layer with ``num_layers = len(params_list)`` (zero initial states).

    Args:
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``
        x: (N, T, D) input sequences
        params_list: list of parameter dicts, bottom layer first (torch needs one H for all layers)
        dh: (N, T, H) upstream gradient on the top layer's states
        device, dtype: as for :func:`torch_rnn_from_numpy`

    Returns:
        dict: ``h`` (N, T, H), ``dx`` (N, T, D) numpy float64, ``grads_list`` (dicts in the numpy layout)
    """
    torch = _torch()
    check_shapes(x=(x, ("N", "T", "D")), dh=(dh, ("N", "T", "H")))
    D, H = np.shape(x)[2], np.shape(params_list[0]["Wh"])[0]
    module = _torch_recurrent_module(cell, D, H, len(params_list), False, device, dtype)
    for l, params in enumerate(params_list):
        _load_layer(module, f"_l{l}", cell, params)
    param = next(module.parameters())
    x_t = torch.tensor(np.asarray(x), dtype=param.dtype, device=param.device, requires_grad=True)
    h_t, _ = module(x_t)
    h_t.backward(torch.as_tensor(np.asarray(dh), dtype=param.dtype, device=param.device))
    return {"h": _to_numpy(h_t), "dx": _to_numpy(x_t.grad),
            "grads_list": [_layer_grads(module, f"_l{l}", cell) for l in range(len(params_list))]}
