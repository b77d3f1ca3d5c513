"""How far back can a recurrent network remember? A recall task and many small classifiers trained at once.

Chapter 7 measures long-range memory on one task, :func:`recall_task`: read a sequence of
``lag + 1`` random symbols and, at the last step, name the first one. The answer depends on an
input exactly ``lag`` steps before the end, and the ``lag`` symbols in between are distractors
from the same alphabet; guessing gives ``1 / n_symbols``.

:func:`train_recall` trains one network per (seed, lag) pair for one cell, all of them side by
side in PyTorch: the K networks are stacked along a leading model axis, as in
:mod:`rnncourse.ensemble`, and network k reads its answer after ``lags[k] + 1`` steps. The
networks share nothing (own weights, own gradient clipping by
:func:`rnncourse.ensemble.clip_per_model`, element-wise Adam), so this is the same as training
each alone, only faster. Cells (``x_t`` the one-hot input, ``h`` the state, PyTorch's formulas
and gate order, with PyTorch's two biases ``b`` on the input side and ``bh`` on the hidden side):

- ``"rnn"``: ``h_t = tanh(x_t Wx + b + h_{t-1} Wh + bh)`` (G = 1)
- ``"gru"``: gates r, z, n; ``n = tanh(x Wxn + bn + r * (h Whn + bhn))``,
  ``h_t = (1 - z) * n + z * h_{t-1}`` (G = 3)
- ``"lstm"``: gates i, f, g, o; ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)`` (G = 4)

torch is optional for the package: it is imported when a training function is called.
"""
import numpy as np

from ._validate import check_generator, check_positive_int

GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # cell -> number of H-column blocks G


def _check_cell(cell):
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    return GATES[cell]


def recall_task(n, lag, n_symbols, rng):
    """Sequences of ``lag + 1`` random symbols; the target is the first one.

    Args:
        n: int >= 1, number of sequences
        lag: int >= 0, the dependency length: how many steps lie between the symbol to recall
            and the end of the sequence (all of them distractors drawn from the same alphabet)
        n_symbols: int >= 2, size of the alphabet; chance accuracy is ``1 / n_symbols``
        rng: numpy Generator

    Returns:
        tokens: (n, lag + 1) int64 symbols in ``0 .. n_symbols - 1``
        y: (n,) int64 targets, ``tokens[:, 0]``
    """
    n, rng = check_positive_int("n", n), check_generator(rng)
    lag = check_positive_int("lag", lag, minimum=0)
    n_symbols = check_positive_int("n_symbols", n_symbols, minimum=2)
    tokens = rng.integers(0, n_symbols, (n, lag + 1))
    return tokens, tokens[:, 0].copy()


def parameter_count(cell, n_symbols, H):
    """Number of parameters of one recall network: the cell (PyTorch's count, two biases) and the readout.

    Args:
        cell: "rnn", "gru" or "lstm"
        n_symbols: int >= 2, input size (one-hot) and number of classes
        H: int >= 1, hidden size

    Returns:
        count: int, ``G*H*(n_symbols + H + 2) + H*n_symbols + n_symbols``
    """
    G = _check_cell(cell)
    n_symbols = check_positive_int("n_symbols", n_symbols, minimum=2)
    H = check_positive_int("H", H)
    return G * H * (n_symbols + H + 2) + H * n_symbols + n_symbols


def init_recall_params(cell, n_symbols, H, seeds, keep_bias=None):
    """Initial weights of K = len(seeds) recall networks, PyTorch's default initialisation.

    Network k draws every weight and bias from ``U(-1/sqrt(H), 1/sqrt(H))`` with
    ``np.random.default_rng(seeds[k])``, as ``torch.nn.RNN/GRU/LSTM`` and ``torch.nn.Linear``
    (fan-in H) do by default.

    Args:
        cell: "rnn", "gru" or "lstm"
        n_symbols: int >= 2, input size (one-hot) and number of classes
        H: int >= 1, hidden size
        seeds: sequence of K >= 1 ints
        keep_bias: None, or a float: the gated cells' "keep" gate (the LSTM's forget gate, the GRU's
            update gate z) then starts with input-side bias ``keep_bias`` and hidden-side bias 0, so
            that the cell starts out keeping most of its state (ignored for "rnn")

    Returns:
        params: dict of float32 numpy arrays ``Wx (K, n_symbols, G*H)``, ``Wh (K, H, G*H)``,
            ``b (K, G*H)``, ``bh (K, G*H)``, ``Wy (K, H, n_symbols)``, ``by (K, n_symbols)``
    """
    G = _check_cell(cell)
    n_symbols = check_positive_int("n_symbols", n_symbols, minimum=2)
    H = check_positive_int("H", H)
    if len(seeds) == 0:
        raise ValueError("seeds must hold K >= 1 seeds, got 0")
    shapes = {"Wx": (n_symbols, G * H), "Wh": (H, G * H), "b": (G * H,), "bh": (G * H,),
              "Wy": (H, n_symbols), "by": (n_symbols,)}
    bound = 1.0 / np.sqrt(H)
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rows.append({name: rng.uniform(-bound, bound, shape).astype(np.float32) for name, shape in shapes.items()})
    params = {name: np.stack([row[name] for row in rows]) for name in shapes}
    if keep_bias is not None and cell != "rnn":
        keep = slice(H, 2 * H)  # the second gate block: the LSTM's forget gate f, the GRU's update gate z
        params["b"][:, keep] = keep_bias
        params["bh"][:, keep] = 0.0
    return params


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs PyTorch: pip install 'rnncourse[torch]'") from error
    return torch


def _step(cell, xw_t, h, c, p):
    """One step of K networks: xw_t (K, N, G*H) = x_t Wx + b, h and c (K, N, H) -> new (h, c)."""
    torch = _torch()
    H = h.shape[-1]
    hw = torch.baddbmm(p["bh"][:, None, :], h, p["Wh"])  # (K, N, G*H)
    if cell == "rnn":
        return torch.tanh(xw_t + hw), c
    if cell == "gru":
        rz = torch.sigmoid(xw_t[..., :2 * H] + hw[..., :2 * H])
        r, z = rz[..., :H], rz[..., H:]
        n = torch.tanh(xw_t[..., 2 * H:] + r * hw[..., 2 * H:])
        return n + z * (h - n), c  # = (1 - z) * n + z * h
    i, f, g, o = (xw_t + hw).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def recall_logits(cell, params, x, read_at):
    """Class scores of K networks, network k reading its answer after step ``read_at[k]``.

    Args:
        cell: "rnn", "gru" or "lstm"
        params: dict of torch tensors with the shapes of :func:`init_recall_params`
        x: (K, N, T, n_symbols) tensor of one-hot inputs, one batch per network
        read_at: (K,) ints in ``0 .. T-1``; network k's logits come from its state after reading
            ``x[k, :, :read_at[k] + 1]`` (the later steps do not affect it)

    Returns:
        logits: (K, N, n_symbols) tensor ``h Wy + by``
    """
    torch = _torch()
    _check_cell(cell)
    K, H = params["Wh"].shape[0], params["Wh"].shape[1]
    if x.dim() != 4 or x.shape[0] != K or x.shape[3] != params["Wx"].shape[1]:
        raise ValueError(f"x must have shape (K, N, T, n_symbols) = ({K}, N, T, {params['Wx'].shape[1]}), "
                         f"got {tuple(x.shape)}")
    read_at = np.asarray(read_at)
    _, N, T, S = x.shape
    if read_at.shape != (K,) or read_at.min() < 0 or read_at.max() >= T:
        raise ValueError(f"read_at must have shape ({K},) with values in 0 .. {T - 1}, "
                         f"got shape {read_at.shape} and values {read_at.min()} .. {read_at.max()}")
    xw = torch.baddbmm(params["b"][:, None, :], x.reshape(K, N * T, S), params["Wx"]).reshape(K, N, T, -1)
    h = torch.zeros((K, N, H), dtype=x.dtype)
    c = torch.zeros_like(h)
    read = torch.zeros_like(h)
    steps = xw[:, :, :int(read_at.max()) + 1].unbind(dim=2)  # one backward for all steps (slicing each would
    for t, xw_t in enumerate(steps):                         # fill a zero (K, N, T, G*H) gradient per step)
        h, c = _step(cell, xw_t, h, c, params)
        here = torch.as_tensor(read_at == t)
        if here.any():
            read = torch.where(here[:, None, None], h, read)
    return torch.baddbmm(params["by"][:, None, :], read, params["Wy"])


def one_hot_batches(tokens, n_symbols):
    """One-hot float32 inputs from symbols: tokens (..., T) int -> (..., T, n_symbols)."""
    return np.eye(n_symbols, dtype=np.float32)[tokens]


def train_recall(cell, lags, seeds, n_symbols=8, H=32, steps=300, batch_size=32, lr=1e-2, max_norm=1.0,
                 n_test=500, keep_bias=None):
    """Train one recall network per (seed, lag) pair with Adam and per-network clipping; test each at its lag.

    Every network sees ``steps`` batches of ``batch_size`` sequences; seed s fixes the initial
    weights (:func:`init_recall_params`) and the training and test sequences
    (:func:`recall_task`, ``np.random.default_rng(seed)``), so the cells see the same data.
    The networks of one seed and different lags read prefixes of the same sequences.

    Args:
        cell: "rnn", "gru" or "lstm"
        lags: sequence of J ints >= 0, the dependency lengths
        seeds: sequence of S ints
        n_symbols: int >= 2, alphabet size; H: int >= 1, hidden size
        steps: int >= 1, training batches per network; batch_size: int >= 1
        lr: Adam's step size; max_norm: the largest global gradient norm of each network
        n_test: int >= 1, test sequences per seed
        keep_bias: None or a float, passed to :func:`init_recall_params`

    Returns:
        dict with ``accuracy`` (S, J) test accuracy of network (seed, lag), ``loss`` (steps, S, J)
        training cross-entropy, and ``lags``, ``seeds`` as numpy arrays
    """
    torch = _torch()
    from .ensemble import clip_per_model

    _check_cell(cell)
    lags = np.asarray(lags)
    if lags.ndim != 1 or len(lags) == 0 or lags.dtype.kind not in "iu" or lags.min() < 0:
        raise ValueError(f"lags must be a non-empty (J,) sequence of ints >= 0, got {lags!r}")
    if len(seeds) == 0:
        raise ValueError("seeds must hold S >= 1 seeds, got 0")
    steps, batch_size = check_positive_int("steps", steps), check_positive_int("batch_size", batch_size)
    n_test = check_positive_int("n_test", n_test)
    n_seeds, n_lags, T = len(seeds), len(lags), int(lags.max()) + 1
    model_seed = np.repeat(np.arange(n_seeds), n_lags)  # network k = (seed k // J, lag k % J)
    read_at = np.tile(lags, n_seeds)
    params = init_recall_params(cell, n_symbols, H, [seeds[s] * 1000 + int(lag) for s, lag in
                                                     zip(model_seed, read_at)], keep_bias)
    p = {name: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    opt = torch.optim.Adam(list(p.values()), lr=lr)
    rngs = [np.random.default_rng(seed) for seed in seeds]
    tests = [recall_task(n_test, T - 1, n_symbols, rng) for rng in rngs]
    losses = []
    for _ in range(steps):
        batch = [recall_task(batch_size, T - 1, n_symbols, rng) for rng in rngs]
        x = torch.tensor(one_hot_batches(np.stack([tokens for tokens, _ in batch]), n_symbols))[model_seed]
        y = torch.tensor(np.stack([target for _, target in batch]))[model_seed]  # (K, N)
        logits = recall_logits(cell, p, x, read_at)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, n_symbols), y.reshape(-1), reduction="none")
        loss = loss.reshape(len(read_at), batch_size).mean(dim=1)  # (K,)
        opt.zero_grad()
        loss.sum().backward()
        clipped, _ = clip_per_model({name: v.grad for name, v in p.items()}, max_norm)
        for name, v in p.items():
            v.grad = clipped[name]
        opt.step()
        losses.append(loss.detach().numpy().reshape(n_seeds, n_lags))
    with torch.no_grad():
        x = torch.tensor(one_hot_batches(np.stack([tokens for tokens, _ in tests]), n_symbols))[model_seed]
        y = torch.tensor(np.stack([target for _, target in tests]))[model_seed]
        right = (recall_logits(cell, p, x, read_at).argmax(dim=-1) == y).double().mean(dim=1)
    return {"accuracy": right.numpy().reshape(n_seeds, n_lags), "loss": np.array(losses),
            "lags": lags, "seeds": np.asarray(seeds)}


def longest_lag_above(lags, accuracy, threshold):
    """The longest dependency length up to which every seed's accuracy is at least ``threshold``.

    Args:
        lags: (J,) increasing ints
        accuracy: (S, J) accuracy of seed s at lag j
        threshold: float in [0, 1]

    Returns:
        lag: the largest ``lags[j]`` such that ``accuracy[:, :j+1] >= threshold`` everywhere, or
        None when the shortest lag already falls below
    """
    lags, accuracy = np.asarray(lags), np.asarray(accuracy, dtype=float)
    if lags.ndim != 1 or accuracy.ndim != 2 or accuracy.shape[1] != lags.shape[0]:
        raise ValueError(f"accuracy must have shape (S, J) = (S, {lags.shape[0] if lags.ndim == 1 else '?'}) "
                         f"for lags (J,), got lags {lags.shape} and accuracy {accuracy.shape}")
    if np.any(np.diff(lags) <= 0):
        raise ValueError(f"lags must be increasing, got {lags.tolist()}")
    ok = np.all(accuracy >= threshold, axis=0)
    failed = np.flatnonzero(~ok)
    last = len(lags) if len(failed) == 0 else failed[0]
    return None if last == 0 else int(lags[last - 1])
