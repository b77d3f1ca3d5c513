"""Unit tests of rnncourse.ensemble: each stacked network equals the package's numpy layer,
per-network clipping equals clip.clip_grad_norm, the gradient ratio equals the numpy BPTT loop,
training learns an easy task and stops a diverging network, and bad input is refused."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnncourse import clip, data, diagnostics, ensemble  # noqa: E402
from rnncourse.gru import gru_forward  # noqa: E402
from rnncourse.rnn import rnn_forward  # noqa: E402


def _params(cell, K=3, D=2, H=4, seed=0):
    names = ["xavier", "orthogonal", "identity"][:K]
    p = ensemble.init_params(cell, D, H, names, [seed + k for k in range(K)])
    rng = np.random.default_rng(seed + 100)
    return {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in p.items()}  # nonzero biases too


def _last_states(cell, p, x):
    """The numpy reference: last hidden state of each network, (K, N, H)."""
    N, H = x.shape[0], p["Wh"].shape[1]
    out = []
    for k in range(p["Wh"].shape[0]):
        if cell in ("rnn", "relu"):
            h, _ = rnn_forward(x, np.zeros((N, H)), p["Wx"][k], p["Wh"][k], p["b"][k], "tanh" if cell == "rnn" else "relu")
        elif cell == "gru":
            h, _ = gru_forward(x, np.zeros((N, H)), p["Wx"][k], p["Wh"][k], p["b"][k], p["bh"][k])
        else:  # residual, by hand
            states, hk = [], np.zeros((N, H))
            for t in range(x.shape[1]):
                hk = hk + np.tanh(x[:, t] @ p["Wx"][k] + hk @ p["Wh"][k] + p["b"][k])
                states.append(hk)
            h = np.stack(states, axis=1)
        out.append(h[:, -1])
    return np.stack(out)


@pytest.mark.parametrize("cell", ["rnn", "relu", "gru", "residual"])
def test_forward_equals_the_numpy_layers(cell):
    p = _params(cell)
    x, _ = data.adding_problem(5, 7, np.random.default_rng(1))
    pred = ensemble.forward(cell, {k: torch.tensor(v) for k, v in p.items()}, torch.tensor(x))
    expected = np.einsum("knh,kh->kn", _last_states(cell, p, x), p["Wy"]) + p["by"][:, None]
    assert pred.shape == (3, 5)
    np.testing.assert_allclose(pred.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_init_params_shapes_and_inits():
    p = ensemble.init_params("gru", 2, 5, ["xavier", "orthogonal", "identity"], [0, 1, 2])
    assert {k: v.shape for k, v in p.items()} == {"Wx": (3, 2, 15), "Wh": (3, 5, 15), "b": (3, 15), "bh": (3, 15),
                                                  "Wy": (3, 5), "by": (3,)}
    block = p["Wh"][1][:, 5:10]
    np.testing.assert_allclose(block @ block.T, np.eye(5), atol=1e-12)
    np.testing.assert_array_equal(p["Wh"][2][:, :5], np.eye(5))
    assert "bh" not in ensemble.init_params("rnn", 2, 5, ["xavier"], [0])
    again = ensemble.init_params("gru", 2, 5, ["xavier", "orthogonal", "identity"], [0, 1, 2])
    for k in p:
        np.testing.assert_array_equal(p[k], again[k])


def test_clip_per_model_equals_clip_grad_norm():
    rng = np.random.default_rng(2)
    grads = {"Wh": rng.standard_normal((3, 4, 4)), "b": 10 * rng.standard_normal((3, 4))}
    clipped, norms = ensemble.clip_per_model({k: torch.tensor(v) for k, v in grads.items()}, [1.0, np.inf, 100.0])
    for k, limit in enumerate([1.0, np.inf, 100.0]):
        one = {name: g[k] for name, g in grads.items()}
        assert norms[k].item() == pytest.approx(clip.global_norm(one), rel=1e-12)
        expected = clip.clip_grad_norm(one, limit)[0] if np.isfinite(limit) else one
        for name in grads:
            np.testing.assert_allclose(clipped[name][k].numpy(), expected[name], rtol=1e-12)
    assert clip.global_norm({n: clipped[n][0].numpy() for n in grads}) == pytest.approx(1.0, abs=1e-5)


def test_clip_values_per_model_equals_clip_grad_value():
    rng = np.random.default_rng(8)
    grads = {"Wh": 3 * rng.standard_normal((3, 4, 4)), "b": rng.standard_normal((3, 4))}
    limits = [0.5, np.inf, 2.0]
    clipped = ensemble.clip_values_per_model({k: torch.tensor(v) for k, v in grads.items()}, limits)
    for k, limit in enumerate(limits):
        one = {name: g[k] for name, g in grads.items()}
        expected = clip.clip_grad_value(one, limit) if np.isfinite(limit) else one
        for name in grads:
            np.testing.assert_array_equal(clipped[name][k].numpy(), expected[name])
    with pytest.raises(ValueError, match="clip_value must be"):
        ensemble.clip_values_per_model({k: torch.tensor(v) for k, v in grads.items()}, [1.0, 0.0, 1.0])


def test_state_gradient_ratio_equals_numpy_bptt():
    p = _params("rnn", K=2)
    x, y = data.adding_problem(6, 9, np.random.default_rng(3))
    ratio = ensemble.state_gradient_ratio("rnn", p, x, y)
    for k in range(2):
        h, cache = rnn_forward(x, np.zeros((6, 4)), p["Wx"][k], p["Wh"][k], p["b"][k], "tanh")
        pred = h[:, -1] @ p["Wy"][k] + p["by"][k]
        dh_last = np.outer(2 * (pred - y) / 6, p["Wy"][k])
        dh = diagnostics.hidden_gradients_through_time(dh_last, cache)
        assert ratio[k] == pytest.approx(np.linalg.norm(dh[:, 0]) / np.linalg.norm(dh[:, -1]), rel=1e-10)


def test_training_learns_a_short_adding_problem():
    rng = np.random.default_rng(4)
    batches = [data.adding_problem(32, 6, rng) for _ in range(150)]
    test = data.adding_problem(500, 6, np.random.default_rng(5))
    p = ensemble.init_params("gru", 2, 8, ["orthogonal", "xavier"], [0, 1])
    out = ensemble.train("gru", p, batches, test, lr=0.02, max_norm=1.0)
    assert out["loss"].shape == (150, 2) and out["grad_norm"].shape == (150, 2)
    assert np.all(out["test_mse"] < 0.2 * (1 / 6))  # well below predicting the mean
    assert not out["diverged"].any()
    np.testing.assert_array_equal(p["Wh"], ensemble.init_params("gru", 2, 8, ["orthogonal", "xavier"], [0, 1])["Wh"])


def test_a_diverging_network_stops_and_the_other_goes_on():
    rng = np.random.default_rng(6)
    batches = [data.adding_problem(16, 30, rng) for _ in range(40)]
    test = data.adding_problem(100, 30, np.random.default_rng(7))
    p = ensemble.init_params("relu", 2, 8, ["identity", "identity"], [0, 1])
    p["Wh"][0] *= 3.0  # network 0: ReLU with W_h = 3 I overflows
    out = ensemble.train("relu", p, batches, test, lr=1e3, max_norm=[np.inf, 1e-3], optimizer="sgd")
    assert out["diverged"][0] and not out["diverged"][1]
    assert np.isnan(out["test_mse"][0]) and np.isfinite(out["test_mse"][1])
    assert all(np.all(np.isfinite(v[1])) for v in out["params"].values())


def test_errors():
    with pytest.raises(ValueError, match="cell must be one of"):
        ensemble.init_params("lstm", 2, 4, ["xavier"], [0])
    with pytest.raises(ValueError, match="inits must be names"):
        ensemble.init_params("rnn", 2, 4, ["he"], [0])
    with pytest.raises(ValueError, match="same length"):
        ensemble.init_params("rnn", 2, 4, ["xavier"], [0, 1])
    grads = {"W": torch.ones((2, 3))}
    with pytest.raises(ValueError, match=r"max_norm must be a positive number or a \(K,\) = \(2,\)"):
        ensemble.clip_per_model(grads, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="max_norm must be"):
        ensemble.clip_per_model(grads, -1.0)
    p = ensemble.init_params("rnn", 2, 4, ["xavier"], [0])
    batch = [data.adding_problem(4, 5, np.random.default_rng(0))]
    with pytest.raises(ValueError, match="optimizer must be"):
        ensemble.train("rnn", p, batch, batch[0], 0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="dtype must be"):
        ensemble.train("rnn", p, batch, batch[0], 0.1, dtype="float16")
