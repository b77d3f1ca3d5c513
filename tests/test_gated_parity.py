"""The numpy LSTM and GRU against torch.nn.LSTM / torch.nn.GRU: same parameters, same numbers
(CPU, and CUDA if present)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnncourse.gru import gru_forward  # noqa: E402
from rnncourse.lstm import lstm_forward  # noqa: E402
from rnncourse.torch_compat import (  # noqa: E402
    compare_gru_with_torch, compare_lstm_with_torch, torch_gru_forward_backward, torch_gru_from_numpy,
    torch_lstm_forward_backward, torch_lstm_from_numpy,
)

SIZES = [(3, 5, 4, 6), (1, 1, 1, 1), (1, 4, 2, 3), (2, 1, 3, 1), (4, 7, 5, 2)]  # (N, T, D, H)
LSTM_OUTPUTS = {"h", "dx", "dh0", "dc0", "dWx", "dWh", "db"}
GRU_OUTPUTS = {"h", "dx", "dh0", "dWx", "dWh", "dbx", "dbh"}


def lstm_inputs(seed, N, T, D, H, with_c0=True):
    rng = np.random.default_rng(seed)
    data = {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
        "b": rng.standard_normal(4 * H) * 0.5,
        "dh": rng.standard_normal((N, T, H)),
    }
    if with_c0:
        data["c0"] = rng.standard_normal((N, H))
    return data


def gru_inputs(seed, N, T, D, H):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "bx": rng.standard_normal(3 * H) * 0.5,
        "bh": rng.standard_normal(3 * H) * 0.5,
        "dh": rng.standard_normal((N, T, H)),
    }


def relative_norm_error(got, want):
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def without(data, *names):
    return {k: v for k, v in data.items() if k not in names}


def check_float64_parity(device):
    for seed, size in enumerate(SIZES):
        for with_c0 in (True, False):
            errors = compare_lstm_with_torch(**lstm_inputs(seed, *size, with_c0=with_c0), device=device)
            assert set(errors) == LSTM_OUTPUTS
            assert max(errors.values()) < 1e-10, ("lstm", size, with_c0, errors)
        errors = compare_gru_with_torch(**gru_inputs(seed, *size), device=device)
        assert set(errors) == GRU_OUTPUTS
        assert max(errors.values()) < 1e-10, ("gru", size, errors)


def check_float32_forward(device):
    for seed, size in enumerate(SIZES):
        data = lstm_inputs(seed, *size)
        ours, _ = lstm_forward(**without(data, "dh"))
        theirs = torch_lstm_forward_backward(**data, device=device, dtype=torch.float32)
        assert relative_norm_error(theirs["h"], ours) < 1e-5, ("lstm", size)
        data = gru_inputs(seed, *size)
        ours, _ = gru_forward(**without(data, "dh"))
        theirs = torch_gru_forward_backward(**data, device=device, dtype=torch.float32)
        assert relative_norm_error(theirs["h"], ours) < 1e-5, ("gru", size)


# ---------------------------------------------------------------- CPU

def test_float64_parity_cpu():
    check_float64_parity("cpu")


def test_float32_torch_vs_float64_numpy_cpu():
    check_float32_forward("cpu")


def test_parity_detects_a_difference():
    # the comparisons are not vacuous: a wrong layout in torch gives large errors
    data = lstm_inputs(0, 2, 3, 2, 3)
    ours, _ = lstm_forward(**without(data, "dh"))
    H = 3
    swapped = np.concatenate([data["Wx"][:, H:2 * H], data["Wx"][:, :H], data["Wx"][:, 2 * H:]], axis=1)  # f, i
    theirs = torch_lstm_forward_backward(**{**data, "Wx": swapped}, device="cpu")
    assert relative_norm_error(theirs["h"], ours) > 1e-3
    data = gru_inputs(0, 2, 3, 2, 3)
    ours, _ = gru_forward(**without(data, "dh"))
    theirs = torch_gru_forward_backward(**{**data, "bx": data["bx"] + data["bh"], "bh": 0 * data["bh"]}, device="cpu")
    assert relative_norm_error(theirs["h"], ours) > 1e-3


def test_gradients_returned_in_numpy_layout():
    out = torch_lstm_forward_backward(**lstm_inputs(1, 2, 3, 4, 5), device="cpu")
    assert {k: v.shape for k, v in out.items()} == {
        "h": (2, 3, 5), "dx": (2, 3, 4), "dh0": (2, 5), "dc0": (2, 5), "dWx": (4, 20), "dWh": (5, 20), "db": (20,)}
    out = torch_gru_forward_backward(**gru_inputs(1, 2, 3, 4, 5), device="cpu")
    assert {k: v.shape for k, v in out.items()} == {
        "h": (2, 3, 5), "dx": (2, 3, 4), "dh0": (2, 5), "dWx": (4, 15), "dWh": (5, 15), "dbx": (15,), "dbh": (15,)}
    assert all(v.dtype == np.float64 for v in out.values())


def test_torch_lstm_from_numpy_layout():
    data = lstm_inputs(2, 2, 3, 4, 5)
    lstm = torch_lstm_from_numpy(data["Wx"], data["Wh"], data["b"], device="cpu")
    assert isinstance(lstm, torch.nn.LSTM)
    assert lstm.batch_first and lstm.num_layers == 1 and (lstm.input_size, lstm.hidden_size) == (4, 5)
    assert lstm.weight_ih_l0.dtype == torch.float64
    np.testing.assert_array_equal(lstm.weight_ih_l0.detach().numpy(), data["Wx"].T)  # (4H, D)
    np.testing.assert_array_equal(lstm.weight_hh_l0.detach().numpy(), data["Wh"].T)  # (4H, H)
    np.testing.assert_array_equal(lstm.bias_ih_l0.detach().numpy(), data["b"])
    np.testing.assert_array_equal(lstm.bias_hh_l0.detach().numpy(), np.zeros(20))
    x, h0, c0 = (torch.tensor(data[k]) for k in ("x", "h0", "c0"))
    with torch.no_grad():
        h, (h_last, c_last) = lstm(x, (h0[None], c0[None]))
    ours, cache = lstm_forward(data["x"], data["h0"], data["Wx"], data["Wh"], data["b"], c0=data["c0"])
    np.testing.assert_allclose(h.numpy(), ours, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_last[0].numpy(), cache.c[:, -1], rtol=1e-12, atol=1e-14)


def test_torch_gru_from_numpy_layout():
    data = gru_inputs(3, 2, 3, 4, 5)
    gru = torch_gru_from_numpy(data["Wx"], data["Wh"], data["bx"], data["bh"], device="cpu", dtype=torch.float32)
    assert isinstance(gru, torch.nn.GRU)
    assert all(p.dtype == torch.float32 for p in gru.parameters())
    np.testing.assert_array_equal(gru.weight_ih_l0.detach().numpy(), data["Wx"].T.astype(np.float32))
    np.testing.assert_array_equal(gru.bias_ih_l0.detach().numpy(), data["bx"].astype(np.float32))
    np.testing.assert_array_equal(gru.bias_hh_l0.detach().numpy(), data["bh"].astype(np.float32))


def test_inputs_are_not_modified():
    for data, run in ((lstm_inputs(4, 2, 3, 2, 3), torch_lstm_forward_backward),
                      (gru_inputs(4, 2, 3, 2, 3), torch_gru_forward_backward)):
        saved = {k: v.copy() for k, v in data.items()}
        run(**data, device="cpu")
        for k in data:
            np.testing.assert_array_equal(data[k], saved[k], err_msg=k)


def test_bad_shapes_are_refused():
    data = lstm_inputs(5, 2, 3, 2, 3)
    with pytest.raises(ValueError, match=r"Wh must have shape \(H, 4H\) = \(4, 16\)"):
        torch_lstm_from_numpy(np.zeros((2, 16)), np.zeros((4, 12)), np.zeros(16), device="cpu")
    with pytest.raises(ValueError, match=r"dh must have shape \(N, T, H\)"):
        torch_lstm_forward_backward(**{**data, "dh": np.zeros((2, 4, 3))}, device="cpu")
    with pytest.raises(ValueError, match=r"bh must have shape \(3H,\) = \(9,\)"):
        torch_gru_from_numpy(np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9), np.zeros(12), device="cpu")


# ---------------------------------------------------------------- CUDA

@pytest.mark.cuda
def test_float64_parity_cuda():
    check_float64_parity("cuda")


@pytest.mark.cuda
def test_float32_torch_vs_float64_numpy_cuda(monkeypatch):
    # cuDNN may use TF32 for float32 by default (about 1e-3 relative): compare true float32
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    check_float32_forward("cuda")


@pytest.mark.cuda
def test_torch_modules_on_cuda():
    data = lstm_inputs(7, 2, 3, 4, 5)
    lstm = torch_lstm_from_numpy(data["Wx"], data["Wh"], data["b"], device="cuda")
    assert lstm.weight_ih_l0.device.type == "cuda"
    data = gru_inputs(7, 2, 3, 4, 5)
    gru = torch_gru_from_numpy(data["Wx"], data["Wh"], data["bx"], data["bh"], device="cuda")
    np.testing.assert_array_equal(gru.weight_hh_l0.detach().cpu().numpy(), data["Wh"].T)
