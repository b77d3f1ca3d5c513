"""K independent small recurrent regressors trained side by side in PyTorch (CPU or GPU).

Chapter 3 compares remedies for vanishing and exploding gradients on a grid of settings
(cell, initialisation, clipping, seed). Training each network alone would cost one Python
loop per network; here the K networks of one cell type are stacked along a leading model
axis and every step is one batched matrix product, ``(K, N, H) @ (K, H, G*H)``. The networks
share nothing: each has its own weights, its own gradient clipping and its own Adam moments
(Adam is element-wise, so one Adam over the stacked tensors is K independent Adams).

Cells (``x_t (K, N, D)``, ``h (K, N, H)``, every weight has its own leading K):

- ``"rnn"``: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``, the plain cell of Chapter 1 (G = 1).
- ``"relu"``: ``h_t = relu(x_t Wx + h_{t-1} Wh + b)``; with ``Wh = I`` the IRNN of Le et al. (2015).
- ``"residual"``: ``h_t = h_{t-1} + tanh(x_t Wx + h_{t-1} Wh + b)``, a skip connection in
  time: the Jacobian ``dh_t/dh_{t-1}`` is ``I + diag(f') Wh^T`` instead of ``diag(f') Wh^T``.
- ``"gru"``: PyTorch's GRU (gate order r, z, n; ``n = tanh(x Wxn + bxn + r * (h Whn + bhn))``,
  ``h_t = (1 - z) * n + z * h_{t-1}``), as in :mod:`rnncourse.gru` (G = 3).

Each network reads its last state with a linear readout ``y = h_T Wy + by`` and is trained on
the mean squared error, the setting of the adding problem (:func:`rnncourse.data.adding_problem`).

torch is optional for the package: it is imported when a function here is called.
"""
import numpy as np

from . import init as _init
from .clip import EPS

CELLS = {"rnn": 1, "relu": 1, "residual": 1, "gru": 3}  # cell -> number of H-column blocks G
INITS = ("xavier", "orthogonal", "identity")


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs PyTorch: pip install 'rnncourse[torch]'") from error
    return torch


def _check_cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell]


def init_params(cell, D, H, inits, seeds):
    """Initial weights of K = len(inits) networks, drawn with the numpy functions of :mod:`rnncourse.init`.

    Network k draws from ``np.random.default_rng(seeds[k])``: ``Wx`` Xavier-uniform per gate
    block, ``Wh`` per (H, H) gate block Xavier-normal (variance 1/H), a random orthogonal
    matrix or the identity, biases 0, readout ``Wy`` Xavier-uniform and ``by = 0``.

    Args:
        cell: "rnn", "relu", "residual" or "gru"
        D: int, input size; H: int, hidden size
        inits: sequence of K names, each "xavier", "orthogonal" or "identity" (the init of Wh)
        seeds: sequence of K ints

    Returns:
        params: dict of float64 numpy arrays ``Wx (K, D, G*H)``, ``Wh (K, H, G*H)``,
            ``b (K, G*H)``, ``Wy (K, H)``, ``by (K,)``, and for the GRU ``bh (K, 3*H)``,
            the hidden-side bias (``bhn`` sits inside ``r * (...)``)
    """
    G = _check_cell(cell)
    if len(inits) != len(seeds) or len(inits) == 0:
        raise ValueError(f"inits and seeds must have the same length K >= 1, got {len(inits)} and {len(seeds)}")
    bad = [name for name in inits if name not in INITS]
    if bad:
        raise ValueError(f"inits must be names from {INITS}, got {bad[0]!r}")
    rows = []
    for name, seed in zip(inits, seeds):
        rng = np.random.default_rng(seed)
        Wx = np.concatenate([_init.xavier_uniform(D, H, rng) for _ in range(G)], axis=1)
        make = {"xavier": lambda: _init.xavier_normal(H, H, rng), "orthogonal": lambda: _init.orthogonal(H, rng),
                "identity": lambda: _init.identity(H)}[name]
        Wh = np.concatenate([make() for _ in range(G)], axis=1)
        row = {"Wx": Wx, "Wh": Wh, "b": np.zeros(G * H), "Wy": _init.xavier_uniform(H, 1, rng)[:, 0],
               "by": np.zeros(())}
        if cell == "gru":
            row["bh"] = np.zeros(G * H)
        rows.append(row)
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _step(cell, xw_t, h, p):
    """One step of K networks: xw_t (K, N, G*H) = x_t Wx + b, h (K, N, H) -> new h (K, N, H)."""
    torch = _torch()
    if cell == "gru":
        H = h.shape[-1]
        gh = torch.baddbmm(p["bh"][:, None, :], h, p["Wh"])
        rz = torch.sigmoid(xw_t[..., :2 * H] + gh[..., :2 * H])
        r, z = rz[..., :H], rz[..., H:]
        n = torch.tanh(xw_t[..., 2 * H:] + r * gh[..., 2 * H:])
        return n + z * (h - n)  # = (1 - z) * n + z * h
    a = torch.baddbmm(xw_t, h, p["Wh"])
    if cell == "relu":
        return torch.relu(a)
    return torch.tanh(a) + h if cell == "residual" else torch.tanh(a)


def forward(cell, params, x, keep_states=False):
    """Predictions of K networks on one batch (torch tensors).

    Args:
        cell: "rnn", "relu", "residual" or "gru"
        params: dict of torch tensors with the shapes of :func:`init_params`
        x: (N, T, D) tensor, shared by all networks
        keep_states: if True, also return every hidden state, with ``retain_grad`` set

    Returns:
        pred: (K, N) predictions ``h_T Wy + by``
        states: (only if keep_states) list of T tensors (K, N, H), the states h_1 .. h_T
    """
    torch = _torch()
    _check_cell(cell)
    K, H = params["Wh"].shape[0], params["Wh"].shape[1]
    N, T, _ = x.shape
    h = torch.zeros((K, N, H), dtype=x.dtype)
    # the input projections of all steps in one product: (K, N*T, D) @ (K, D, G*H)
    xw = torch.baddbmm(params["b"][:, None, :], x.reshape(1, N * T, -1).expand(K, N * T, x.shape[2]),
                       params["Wx"]).reshape(K, N, T, -1)
    states = []
    for t in range(T):
        h = _step(cell, xw[:, :, t], h, params)
        if keep_states:
            h.retain_grad()
            states.append(h)
    pred = torch.einsum("knh,kh->kn", h, params["Wy"]) + params["by"][:, None]
    return (pred, states) if keep_states else pred


def per_model_norms(grads):
    """Global L2 norm of each network's gradients: the norm :func:`rnncourse.clip.global_norm` of network k.

    Args:
        grads: dict name -> tensor whose first axis is the model axis K

    Returns:
        norms: (K,) tensor
    """
    return sum((g.reshape(g.shape[0], -1) ** 2).sum(dim=1) for g in grads.values()).sqrt()


def clip_per_model(grads, max_norm):
    """Global-norm clipping of each network on its own, as :func:`rnncourse.clip.clip_grad_norm` does.

    Network k's gradients are all multiplied by ``min(1, max_norm[k] / (norm_k + 1e-6))``;
    ``max_norm[k] = inf`` leaves network k unclipped.

    Args:
        grads: dict name -> tensor (K, ...); not modified
        max_norm: positive float (the same for all networks) or (K,) sequence of positive floats

    Returns:
        clipped: dict name -> new tensor of the same shape
        norms: (K,) the norms before clipping
    """
    torch = _torch()
    norms = per_model_norms(grads)
    limits = np.broadcast_to(np.asarray(max_norm, dtype=np.float64), (norms.shape[0],)) \
        if np.ndim(max_norm) == 0 else np.asarray(max_norm, dtype=np.float64)
    if limits.shape != (norms.shape[0],) or np.any(np.isnan(limits)) or np.any(limits <= 0):
        raise ValueError(f"max_norm must be a positive number or a (K,) = ({norms.shape[0]},) array of them, "
                         f"got {max_norm!r}")
    scale = torch.clamp(torch.tensor(limits, dtype=norms.dtype) / (norms + EPS), max=1.0)
    return {k: g * scale.reshape((-1,) + (1,) * (g.dim() - 1)) for k, g in grads.items()}, norms


def clip_values_per_model(grads, clip_value):
    """Value clipping of each network on its own, as :func:`rnncourse.clip.clip_grad_value` does.

    Args:
        grads: dict name -> tensor (K, ...); not modified
        clip_value: positive float (the same for all networks) or (K,) sequence of positive floats;
            ``inf`` leaves a network unclipped

    Returns:
        clipped: dict name -> new tensor, every entry of network k cut to ``[-clip_value[k], clip_value[k]]``
    """
    torch = _torch()
    K = next(iter(grads.values())).shape[0]
    limits = np.broadcast_to(np.asarray(clip_value, dtype=np.float64), (K,)) \
        if np.ndim(clip_value) == 0 else np.asarray(clip_value, dtype=np.float64)
    if limits.shape != (K,) or np.any(np.isnan(limits)) or np.any(limits <= 0):
        raise ValueError(f"clip_value must be a positive number or a (K,) = ({K},) array of them, got {clip_value!r}")
    out = {}
    for name, g in grads.items():
        bound = torch.tensor(limits, dtype=g.dtype).reshape((-1,) + (1,) * (g.dim() - 1))
        out[name] = torch.maximum(torch.minimum(g, bound), -bound)
    return out


def state_gradient_ratio(cell, params, x, y):
    """How much of the loss's gradient reaches the first state: ``||dL/dh_1|| / ||dL/dh_T||`` per network.

    The norms are over the N sequences and H units of each network; a value far below 1 is a
    vanishing gradient, far above 1 an exploding one.

    Args:
        cell: "rnn", "relu", "residual" or "gru"; params: dict of numpy arrays from :func:`init_params`
        x: (N, T, D) numpy inputs; y: (N,) numpy targets

    Returns:
        ratio: (K,) numpy array
    """
    torch = _torch()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    pred, states = forward(cell, p, torch.tensor(x), keep_states=True)
    ((pred - torch.tensor(y)) ** 2).mean(dim=1).sum().backward()
    first = states[0].grad.flatten(1).norm(dim=1)
    last = states[-1].grad.flatten(1).norm(dim=1)
    return (first / last).numpy()


def train(cell, params, batches, test, lr, max_norm=None, optimizer="adam", dtype="float64", clip_value=None):
    """Train K networks on the mean squared error, optionally clipping each one's gradient.

    A network whose loss becomes non-finite keeps its last finite weights and stops
    (its later losses are recorded as nan).

    Args:
        cell: "rnn", "relu", "residual" or "gru"
        params: dict of numpy arrays from :func:`init_params` (not modified)
        batches: iterable of (x (N, T, D), y (N,)) numpy training batches
        test: (x (M, T, D), y (M,)) numpy test set
        lr: the step size
        optimizer: "adam" (Kingma & Ba 2015) or "sgd" (plain gradient descent)
        dtype: "float64" or "float32" (about twice as fast on a CPU)
        clip_value: None, or one float or a (K,) sequence: every gradient entry of network k is cut
            to ``[-clip_value[k], clip_value[k]]`` (after norm clipping), as
            :func:`rnncourse.clip.clip_grad_value` does; ``inf`` leaves network k alone
        max_norm: None for no clipping, else the largest global norm of each network's gradient,
            one float for all or a (K,) sequence (``inf`` for a network that is not clipped)

    Returns:
        dict with ``loss`` (S, K) training losses, ``grad_norm`` (S, K) gradient norms before
        clipping, ``test_mse`` (K,) on the test set (nan for a network that diverged),
        ``diverged`` (K,) bool, and ``params`` the trained weights (numpy)
    """
    torch = _torch()
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    dtype = getattr(torch, dtype)
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()}
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(list(p.values()), lr=lr)
    K = params["Wh"].shape[0]
    alive = torch.ones(K, dtype=torch.bool)
    losses, norms = [], []
    for xb, yb in batches:
        pred = forward(cell, p, torch.tensor(xb, dtype=dtype))
        loss = ((pred - torch.tensor(yb, dtype=dtype)) ** 2).mean(dim=1)
        opt.zero_grad()
        torch.where(alive, loss, torch.zeros_like(loss)).sum().backward()
        grads = {k: v.grad for k, v in p.items()}
        step_norms = per_model_norms(grads)
        alive &= torch.isfinite(loss.detach()) & torch.isfinite(step_norms)
        if max_norm is not None:
            grads = clip_per_model(grads, max_norm)[0]
        if clip_value is not None:
            grads = clip_values_per_model(grads, clip_value)
        with torch.no_grad():
            for k, v in p.items():
                keep = alive.reshape((-1,) + (1,) * (v.dim() - 1))
                v.grad = torch.where(keep, torch.nan_to_num(grads[k]), torch.zeros_like(v))
        before = {k: v.detach().clone() for k, v in p.items()}
        opt.step()
        with torch.no_grad():
            for k, v in p.items():  # a network that went non-finite keeps its last weights
                keep = alive.reshape((-1,) + (1,) * (v.dim() - 1))
                v.copy_(torch.where(keep, v, before[k]))
        losses.append(torch.where(alive, loss.detach(), torch.full_like(loss, float("nan"))).double().numpy())
        norms.append(step_norms.detach().double().numpy())
    with torch.no_grad():
        pred = forward(cell, p, torch.tensor(test[0], dtype=dtype))
        test_mse = ((pred - torch.tensor(test[1], dtype=dtype)) ** 2).mean(dim=1)
        test_mse = torch.where(alive & torch.isfinite(test_mse), test_mse, torch.full_like(test_mse, float("nan")))
    return {"loss": np.array(losses), "grad_norm": np.array(norms), "test_mse": test_mse.double().numpy(),
            "diverged": (~alive).numpy(), "params": {k: v.detach().double().numpy() for k, v in p.items()}}
