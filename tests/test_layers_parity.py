"""rnncourse.layers against PyTorch in float64: nn.Embedding, F.cross_entropy with ignore_index,
bidirectional nn.RNN/GRU/LSTM on pack_padded_sequence input, and num_layers=2 (CPU, and CUDA if present).

Every comparison is the largest absolute difference between the numpy and the torch result,
for the outputs and for every gradient; :func:`parity_differences` returns them all, by name,
so the numbers can be printed (``python tests/test_layers_parity.py``).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnncourse import layers as L  # noqa: E402
from rnncourse.torch_compat import (  # noqa: E402
    torch_bidirectional_forward_backward, torch_embedding_forward_backward, torch_masked_cross_entropy,
    torch_stacked_forward_backward,
)

TOLERANCE = 1e-12  # largest absolute difference allowed, float64, values of order 1


def max_abs(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)))


def padded_batch(seed, N=5, T=6, D=3):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, N)
    lengths[0], lengths[1] = T, 1  # unsorted, with a full-length and a length-1 sequence
    x = rng.standard_normal((N, T, D))
    x[~L.length_mask(lengths, T)] = 5.0  # padding that would show if it were read
    return x, lengths, rng


def embedding_differences(device, seed=0):
    rng = np.random.default_rng(seed)
    W, tokens = rng.standard_normal((7, 4)), rng.integers(0, 7, (3, 5))
    tokens[0, :3] = 2  # a repeated token
    dout = rng.standard_normal((3, 5, 4))
    out, cache = L.embedding_forward(tokens, W)
    theirs = torch_embedding_forward_backward(tokens, W, dout, device=device)
    return {"out": max_abs(out, theirs["out"]), "dW": max_abs(L.embedding_backward(dout, cache), theirs["dW"])}


def cross_entropy_differences(device, seed=1):
    rng = np.random.default_rng(seed)
    N, T, V = 4, 6, 9
    lengths = rng.integers(1, T + 1, N)
    mask = L.length_mask(lengths, T)
    scores, targets = rng.standard_normal((N, T, V)) * 3, rng.integers(0, V, (N, T))
    targets[~mask] = -100  # what a padded batch for torch holds
    loss, dscores = L.temporal_softmax_loss(scores, targets, mask)
    theirs = torch_masked_cross_entropy(scores, targets, mask, device=device)
    return {"loss": abs(loss - theirs["loss"]), "dscores": max_abs(dscores, theirs["dscores"])}


def bidirectional_differences(cell, device, seed=2, H=4):
    x, lengths, rng = padded_batch(seed)
    D = x.shape[2]
    p_f, p_b = L.init_cell_params(cell, D, H, rng), L.init_cell_params(cell, D, H, rng)
    dh = rng.standard_normal(x.shape[:2] + (2 * H,))
    h, cache = L.bidirectional_forward(x, lengths, p_f, p_b, cell)
    dx, g_f, g_b = L.bidirectional_backward(dh, cache)
    theirs = torch_bidirectional_forward_backward(cell, x, lengths, p_f, p_b, dh, device=device)
    differences = {"h": max_abs(h, theirs["h"]), "dx": max_abs(dx, theirs["dx"])}
    differences.update({f"fwd {k}": max_abs(g_f[k], theirs["grads_fwd"][k]) for k in p_f})
    differences.update({f"bwd {k}": max_abs(g_b[k], theirs["grads_bwd"][k]) for k in p_b})
    return differences


def stacked_differences(cell, device, seed=3, H=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 5, 2))
    params_list = [L.init_cell_params(cell, 2, H, rng), L.init_cell_params(cell, H, H, rng)]
    dh = rng.standard_normal((3, 5, H))
    h, cache = L.stacked_forward(x, params_list, cell)
    dx, grads_list = L.stacked_backward(dh, cache)
    theirs = torch_stacked_forward_backward(cell, x, params_list, dh, device=device)
    differences = {"h": max_abs(h, theirs["h"]), "dx": max_abs(dx, theirs["dx"])}
    for l in range(2):
        differences.update({f"layer {l + 1} {k}": max_abs(grads_list[l][k], theirs["grads_list"][l][k])
                            for k in params_list[l]})
    return differences


def parity_differences(device):
    """{comparison: {output or gradient: largest absolute difference}} for every comparison."""
    results = {"embedding": embedding_differences(device), "cross_entropy": cross_entropy_differences(device)}
    for cell in L.CELLS:
        results[f"bidirectional {cell}"] = bidirectional_differences(cell, device)
        results[f"num_layers=2 {cell}"] = stacked_differences(cell, device)
    return results


def assert_parity(differences):
    assert differences  # something was compared
    worst = max(differences.values())
    assert worst < TOLERANCE, differences


# ---------------------------------------------------------------- CPU

def test_embedding_parity_cpu():
    assert_parity(embedding_differences("cpu"))


def test_cross_entropy_ignore_index_parity_cpu():
    assert_parity(cross_entropy_differences("cpu"))


@pytest.mark.parametrize("cell", L.CELLS)
def test_bidirectional_packed_parity_cpu(cell):
    differences = bidirectional_differences(cell, "cpu")
    assert len(differences) == 2 + 2 * len(L.PARAM_NAMES[cell])  # h, dx and every parameter of both directions
    assert_parity(differences)


@pytest.mark.parametrize("cell", L.CELLS)
def test_num_layers_2_parity_cpu(cell):
    assert_parity(stacked_differences(cell, "cpu"))


def test_parity_detects_the_naive_backward_direction():
    # the comparison has power: a backward direction that starts at the padded end differs from torch
    x, lengths, rng = padded_batch(4)
    p_f, p_b = L.init_cell_params("gru", 3, 4, rng), L.init_cell_params("gru", 3, 4, rng)
    theirs = torch_bidirectional_forward_backward("gru", x, lengths, p_f, p_b, np.ones((5, 6, 8)), device="cpu")
    naive, _ = L.recurrent_forward("gru", x[:, ::-1], np.zeros((5, 4)), p_b)
    mask = L.length_mask(lengths, 6)
    assert max_abs(naive[:, ::-1][mask], theirs["h"][..., 4:][mask]) > 1e-2


def test_parity_detects_an_unmasked_mean():
    # and the loss comparison too: averaging over every position instead of the real ones differs
    rng = np.random.default_rng(5)
    scores, targets = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    mask = np.array([[True, True, False], [True, False, False]])
    loss_all, _ = L.temporal_softmax_loss(scores, targets, np.ones((2, 3), bool))
    assert abs(loss_all - torch_masked_cross_entropy(scores, targets, mask, device="cpu")["loss"]) > 1e-3


# ---------------------------------------------------------------- CUDA

@pytest.mark.cuda
def test_all_parity_cuda():
    for name, differences in parity_differences("cuda").items():
        assert_parity(differences)


if __name__ == "__main__":  # print the figures
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for name, differences in parity_differences(device).items():
            print(f"{device:4s} {name:22s} max abs difference {max(differences.values()):.1e}  "
                  + ", ".join(f"{k} {v:.1e}" for k, v in differences.items()))
