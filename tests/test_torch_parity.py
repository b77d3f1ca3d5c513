"""The numpy RNN layer against torch.nn.RNN: same parameters, same numbers (CPU, and CUDA if present)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnncourse.rnn import rnn_forward  # noqa: E402
from rnncourse.torch_compat import (  # noqa: E402
    compare_rnn_with_torch, torch_rnn_forward_backward, torch_rnn_from_numpy,
)

SIZES = [(3, 5, 4, 6), (1, 1, 1, 1), (1, 4, 2, 3), (2, 1, 3, 1), (4, 7, 5, 2)]  # (N, T, D, H)
OUTPUTS = {"h", "dx", "dh0", "dWx", "dWh", "db"}


def inputs(seed, N, T, D, H):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.5,
        "dh": rng.standard_normal((N, T, H)),
    }


def relative_norm_error(got, want):
    """||got - want|| / ||want|| (a relu layer may output all zeros: then the absolute error)."""
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1.0 if not want.any() else 0.0))


def check_float64_parity(device):
    for seed, size in enumerate(SIZES):
        for activation in ("tanh", "relu"):
            errors = compare_rnn_with_torch(**inputs(seed, *size), activation=activation, device=device)
            assert set(errors) == OUTPUTS
            worst = max(errors.values())
            assert worst < 1e-10, (size, activation, errors)


def check_float32_forward(device):
    for seed, size in enumerate(SIZES):
        for activation in ("tanh", "relu"):
            data = inputs(seed, *size)
            ours, _ = rnn_forward(*(data[k] for k in ("x", "h0", "Wx", "Wh", "b")), activation=activation)
            theirs = torch_rnn_forward_backward(**data, activation=activation, device=device, dtype=torch.float32)
            assert relative_norm_error(theirs["h"], ours) < 1e-5, (size, activation)


# ---------------------------------------------------------------- CPU

def test_float64_parity_cpu():
    check_float64_parity("cpu")


def test_float32_torch_vs_float64_numpy_cpu():
    check_float32_forward("cpu")


def test_parity_detects_a_difference():
    # the comparison is not vacuous: other parameters in torch give large errors
    data = inputs(0, 2, 3, 2, 3)
    ours, _ = rnn_forward(*(data[k] for k in ("x", "h0", "Wx", "Wh", "b")))
    theirs = torch_rnn_forward_backward(**{**data, "Wh": data["Wh"].T}, device="cpu")
    assert relative_norm_error(theirs["h"], ours) > 1e-3


def test_gradients_returned_in_numpy_layout():
    data = inputs(1, 2, 3, 4, 5)
    out = torch_rnn_forward_backward(**data, device="cpu")
    shapes = {k: v.shape for k, v in out.items()}
    assert shapes == {"h": (2, 3, 5), "dx": (2, 3, 4), "dh0": (2, 5), "dWx": (4, 5), "dWh": (5, 5), "db": (5,)}
    assert all(v.dtype == np.float64 for v in out.values())


def test_torch_rnn_from_numpy_layout():
    data = inputs(2, 2, 3, 4, 5)
    Wx, Wh, b = data["Wx"], data["Wh"], data["b"]
    rnn = torch_rnn_from_numpy(Wx, Wh, b, activation="relu", device="cpu")
    assert isinstance(rnn, torch.nn.RNN)
    assert rnn.batch_first and rnn.num_layers == 1 and rnn.nonlinearity == "relu"
    assert (rnn.input_size, rnn.hidden_size) == (4, 5)
    assert rnn.weight_ih_l0.dtype == torch.float64 and rnn.weight_ih_l0.device.type == "cpu"
    np.testing.assert_array_equal(rnn.weight_ih_l0.detach().numpy(), Wx.T)  # (H, D)
    np.testing.assert_array_equal(rnn.weight_hh_l0.detach().numpy(), Wh.T)  # (H, H)
    np.testing.assert_array_equal(rnn.bias_ih_l0.detach().numpy(), b)
    np.testing.assert_array_equal(rnn.bias_hh_l0.detach().numpy(), np.zeros(5))
    # the module computes the numpy layer's forward pass
    x, h0 = torch.tensor(data["x"]), torch.tensor(data["h0"])[None]
    with torch.no_grad():
        h, h_last = rnn(x, h0)
    ours, _ = rnn_forward(data["x"], data["h0"], Wx, Wh, b, activation="relu")
    np.testing.assert_allclose(h.numpy(), ours, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_last[0].numpy(), ours[:, -1], rtol=1e-12, atol=1e-14)


def test_torch_rnn_from_numpy_dtype_and_default_activation():
    data = inputs(3, 1, 2, 2, 3)
    rnn = torch_rnn_from_numpy(data["Wx"], data["Wh"], data["b"], device="cpu", dtype=torch.float32)
    assert rnn.nonlinearity == "tanh"
    assert all(p.dtype == torch.float32 for p in rnn.parameters())


def test_torch_rnn_from_numpy_does_not_modify_inputs():
    data = inputs(4, 2, 3, 2, 3)
    saved = {k: v.copy() for k, v in data.items()}
    torch_rnn_forward_backward(**data, device="cpu")
    for k in data:
        np.testing.assert_array_equal(data[k], saved[k], err_msg=k)


def test_sigmoid_is_refused():
    data = inputs(5, 1, 2, 2, 3)
    with pytest.raises(ValueError, match="sigmoid"):
        torch_rnn_from_numpy(data["Wx"], data["Wh"], data["b"], activation="sigmoid", device="cpu")
    with pytest.raises(ValueError, match="sigmoid"):
        compare_rnn_with_torch(**data, activation="sigmoid", device="cpu")


def test_bad_shapes_are_refused():
    data = inputs(6, 2, 3, 2, 3)
    with pytest.raises(ValueError, match=r"Wh must have shape \(H, H\) = \(3, 3\)"):
        torch_rnn_from_numpy(data["Wx"], np.zeros((3, 4)), data["b"], device="cpu")
    with pytest.raises(ValueError, match=r"dh must have shape \(N, T, H\)"):
        torch_rnn_forward_backward(**{**data, "dh": np.zeros((2, 4, 3))}, device="cpu")


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
def test_torch_rnn_from_numpy_on_cuda():
    data = inputs(7, 2, 3, 4, 5)
    rnn = torch_rnn_from_numpy(data["Wx"], data["Wh"], data["b"], device="cuda")
    assert rnn.weight_ih_l0.device.type == "cuda"
    np.testing.assert_array_equal(rnn.weight_ih_l0.detach().cpu().numpy(), data["Wx"].T)
