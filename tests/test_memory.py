"""Unit tests of rnncourse.memory: the recall task, the stacked cells against PyTorch's own modules,
reading each network at its own step, the parameter count, the longest-length rule, training on
an easy case, and bad input refused."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnncourse import memory  # noqa: E402


def test_recall_task_targets_the_first_symbol():
    tokens, y = memory.recall_task(50, 7, 3, np.random.default_rng(0))
    assert tokens.shape == (50, 8) and y.shape == (50,)
    np.testing.assert_array_equal(y, tokens[:, 0])
    assert tokens.min() >= 0 and tokens.max() <= 2
    assert set(np.unique(tokens)) == {0, 1, 2}
    again, _ = memory.recall_task(50, 7, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(tokens, again)
    only, _ = memory.recall_task(4, 0, 2, np.random.default_rng(1))
    assert only.shape == (4, 1)


@pytest.mark.parametrize("kwargs, name", [({"n": 0}, "n"), ({"lag": -1}, "lag"), ({"n_symbols": 1}, "n_symbols"),
                                          ({"rng": 3}, "rng")])
def test_recall_task_refuses_bad_input(kwargs, name):
    args = {"n": 2, "lag": 3, "n_symbols": 4, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(ValueError, match=name):
        memory.recall_task(**args)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_parameter_count_equals_pytorch(cell):
    module = getattr(torch.nn, cell.upper())(5, 7)
    readout = torch.nn.Linear(7, 5)
    expected = sum(p.numel() for p in module.parameters()) + sum(p.numel() for p in readout.parameters())
    assert memory.parameter_count(cell, 5, 7) == expected
    params = memory.init_recall_params(cell, 5, 7, [0])
    assert sum(v[0].size for v in params.values()) == expected


def _torch_module(cell, params, k):
    """PyTorch's own layer with network k's weights (PyTorch stores W transposed: (G*H, D))."""
    S, GH = params["Wx"].shape[1:]
    H = params["Wh"].shape[1]
    module = getattr(torch.nn, cell.upper())(S, H, batch_first=True)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(params["Wx"][k].T))
        module.weight_hh_l0.copy_(torch.tensor(params["Wh"][k].T))
        module.bias_ih_l0.copy_(torch.tensor(params["b"][k]))
        module.bias_hh_l0.copy_(torch.tensor(params["bh"][k]))
    return module


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_logits_equal_pytorch_modules_read_at_each_networks_step(cell):
    rng = np.random.default_rng(3)
    params = memory.init_recall_params(cell, 4, 6, [10, 11, 12], keep_bias=1.5)
    params = {k: (v + 0.1 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in params.items()}
    tokens = rng.integers(0, 4, (3, 5, 9))
    x = torch.tensor(memory.one_hot_batches(tokens, 4))
    read_at = np.array([8, 0, 4])
    logits = memory.recall_logits(cell, {k: torch.tensor(v) for k, v in params.items()}, x, read_at)
    assert logits.shape == (3, 5, 4)
    for k, t in enumerate(read_at):
        out, _ = _torch_module(cell, params, k)(x[k])
        expected = out[:, t].detach().numpy() @ params["Wy"][k] + params["by"][k]
        np.testing.assert_allclose(logits[k].detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    # the steps after read_at[k] do not reach network k
    changed = x.clone()
    changed[1, :, 1:] = torch.flip(changed[1, :, 1:], dims=[-1])
    again = memory.recall_logits(cell, {k: torch.tensor(v) for k, v in params.items()}, changed, read_at)
    np.testing.assert_array_equal(again[1].detach().numpy(), logits[1].detach().numpy())


def test_keep_bias_sets_the_keep_gate_only():
    plain = memory.init_recall_params("lstm", 3, 4, [0])
    kept = memory.init_recall_params("lstm", 3, 4, [0], keep_bias=2.0)
    np.testing.assert_array_equal(kept["b"][0, 4:8], 2.0)
    np.testing.assert_array_equal(kept["bh"][0, 4:8], 0.0)
    np.testing.assert_array_equal(kept["b"][0, :4], plain["b"][0, :4])
    np.testing.assert_array_equal(kept["Wh"], plain["Wh"])
    rnn = memory.init_recall_params("rnn", 3, 4, [0], keep_bias=2.0)
    np.testing.assert_array_equal(rnn["b"], memory.init_recall_params("rnn", 3, 4, [0])["b"])


def test_recall_logits_refuses_bad_shapes():
    p = {k: torch.tensor(v) for k, v in memory.init_recall_params("rnn", 3, 4, [0, 1]).items()}
    with pytest.raises(ValueError, match="x must have shape"):
        memory.recall_logits("rnn", p, torch.zeros(3, 2, 5, 3), [1, 1, 1])
    with pytest.raises(ValueError, match="read_at"):
        memory.recall_logits("rnn", p, torch.zeros(2, 2, 5, 3), [1, 5])
    with pytest.raises(ValueError, match="cell"):
        memory.recall_logits("elman", p, torch.zeros(2, 2, 5, 3), [1, 1])


def test_longest_lag_above():
    lags = [5, 10, 20, 40]
    acc = np.array([[1.0, 0.95, 0.5, 0.99], [1.0, 0.92, 0.99, 0.99]])
    assert memory.longest_lag_above(lags, acc, 0.9) == 10  # contiguous from the shortest: 40 does not count
    assert memory.longest_lag_above(lags, acc, 0.4) == 40
    assert memory.longest_lag_above(lags, acc, 1.0) == 5
    assert memory.longest_lag_above(lags, acc * 0.5, 0.9) is None
    with pytest.raises(ValueError, match="accuracy must have shape"):
        memory.longest_lag_above(lags, acc[:, :3], 0.9)
    with pytest.raises(ValueError, match="increasing"):
        memory.longest_lag_above([5, 5, 20, 40], acc, 0.9)


def test_train_recall_learns_a_short_lag_and_not_chance():
    torch.manual_seed(0)
    result = memory.train_recall("gru", [1, 2], [0, 1], n_symbols=3, H=8, steps=150, batch_size=16, lr=0.03,
                                 n_test=200)
    assert result["accuracy"].shape == (2, 2) and result["loss"].shape == (150, 2, 2)
    assert result["accuracy"].min() > 0.9, result["accuracy"]
    assert np.all(result["loss"][-10:].mean(axis=0) < result["loss"][:10].mean(axis=0))


def test_train_recall_refuses_bad_input():
    with pytest.raises(ValueError, match="lags"):
        memory.train_recall("rnn", [], [0])
    with pytest.raises(ValueError, match="lags"):
        memory.train_recall("rnn", [1.5, 2], [0])
    with pytest.raises(ValueError, match="seeds"):
        memory.train_recall("rnn", [1], [])
    with pytest.raises(ValueError, match="steps"):
        memory.train_recall("rnn", [1], [0], steps=0)
