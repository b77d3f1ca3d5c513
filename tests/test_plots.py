"""Tests of rnncourse.plots: the figures draw on an Agg canvas and check their arguments."""
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from rnncourse.plots import (  # noqa: E402
    IO_CONFIGURATIONS,
    draw_encoder_decoder_attention,
    draw_gru_cell,
    draw_io_configurations,
    draw_lstm_cell,
    draw_lstm_gradient_paths,
    draw_unrolled_rnn,
)


def new_axes():
    """An axes on its own Agg canvas: no pyplot, no global figure state."""
    fig = Figure(figsize=(8, 3))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


@pytest.mark.parametrize("steps", [1, 4, 7])
def test_draw_unrolled_rnn_draws_one_cell_per_step(steps):
    fig, ax = new_axes()
    artists = draw_unrolled_rnn(ax, steps=steps)
    fig.canvas.draw()  # renders every label, so bad mathtext would raise here

    assert len(artists["x_boxes"]) == steps
    assert len(artists["h_boxes"]) == steps
    assert len(artists["input_arrows"]) == steps
    assert len(artists["recurrent_arrows"]) == steps
    # Every returned artist is really on the axes: 2T + 1 boxes (with h0) and 2T arrows.
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 2 * steps + 1
    assert len(arrows) == 2 * steps
    assert artists["h0_box"] in boxes
    assert all(box in boxes for box in artists["x_boxes"] + artists["h_boxes"])

    texts = [t.get_text() for t in ax.texts]
    expected = [label for t in range(1, steps + 1) for label in (f"$x_{{{t}}}$", f"$h_{{{t}}}$")]
    assert artists["labels"] == expected
    assert "$h_0$" in texts and all(label in texts for label in expected)
    assert texts.count("$W_x$") == steps and texts.count("$W_h$") == steps


def test_draw_unrolled_rnn_lays_out_steps_left_to_right_inside_the_limits():
    fig, ax = new_axes()
    artists = draw_unrolled_rnn(ax, steps=5)
    xs = [box.get_x() for box in artists["h_boxes"]]
    assert xs == sorted(xs) and len(set(xs)) == 5
    x_min, x_max = ax.get_xlim()
    y_min, y_max = ax.get_ylim()
    for box in artists["x_boxes"] + artists["h_boxes"] + [artists["h0_box"]]:
        assert x_min <= box.get_x() and box.get_x() + box.get_width() <= x_max
        assert y_min <= box.get_y() and box.get_y() + box.get_height() <= y_max
    # Inputs sit below their states.
    for x_box, h_box in zip(artists["x_boxes"], artists["h_boxes"]):
        assert x_box.get_y() < h_box.get_y()
    assert not ax.axison


@pytest.mark.parametrize("steps", [0, -3, 2.5, "4", True, None])
def test_draw_unrolled_rnn_rejects_bad_steps(steps):
    _, ax = new_axes()
    with pytest.raises(ValueError, match="steps"):
        draw_unrolled_rnn(ax, steps=steps)
    assert not ax.patches  # nothing drawn before the check


def boxes_and_arrows(ax):
    """The rounded boxes and the arrows on ax."""
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows


def test_draw_lstm_cell_has_pytorchs_four_gates_and_a_cell_path_without_weights():
    fig, ax = new_axes()
    artists = draw_lstm_cell(ax)
    fig.canvas.draw()  # bad mathtext would raise here

    boxes, arrows = boxes_and_arrows(ax)
    assert set(artists["gates"]) == {"i", "f", "g", "o"}
    assert set(artists["states"]) == {"c_prev", "h_prev", "x", "c", "h"}
    assert set(artists["ops"]) == {"forget", "write", "add", "tanh_c", "show"}
    drawn = list(artists["gates"].values()) + list(artists["states"].values()) + list(artists["ops"].values())
    assert all(patch in boxes for patch in drawn) and len(boxes) == len(drawn)
    assert all(arrow in arrows for arrow in artists["arrows"]) and len(arrows) == len(artists["arrows"])
    labels = artists["labels"]
    assert labels["c_prev"] == "$c_{t-1}$" and labels["c"] == "$c_t$" and labels["h"] == "$h_t$"
    # sigmoid for i, f, o and tanh for the candidate g, as in torch.nn.LSTM
    for gate in "ifo":
        assert "sigma" in labels[gate] and f"${gate}_t$" in labels[gate]
    assert labels["g"].startswith("tanh") and "$g_t$" in labels["g"]
    # The cell path runs left to right from c_{t-1} through f * c and + into c_t.
    path = artists["cell_path"]
    assert len(path) == 3
    starts = [a._posA_posB[0][0] for a in path]
    assert starts == sorted(starts)
    assert artists["states"]["c_prev"].get_x() < path[0]._posA_posB[0][0]
    assert path[-1]._posA_posB[1][0] <= artists["states"]["c"].get_x() + 1e-9
    assert any("no weight matrix" in t.get_text() for t in ax.texts)
    assert not ax.axison


def test_draw_gru_cell_has_reset_update_candidate_and_the_reset_after_the_product():
    fig, ax = new_axes()
    artists = draw_gru_cell(ax)
    fig.canvas.draw()

    boxes, arrows = boxes_and_arrows(ax)
    assert set(artists["gates"]) == {"r", "z", "n"}
    assert set(artists["states"]) == {"h_prev", "x", "h"}
    assert set(artists["ops"]) == {"reset", "keep", "one_minus", "take", "add"}
    drawn = list(artists["gates"].values()) + list(artists["states"].values()) + list(artists["ops"].values())
    assert all(patch in boxes for patch in drawn) and len(boxes) == len(drawn)
    assert len(arrows) == len(artists["arrows"])
    labels = artists["labels"]
    assert "sigma" in labels["r"] and "sigma" in labels["z"] and labels["n"].startswith("tanh")
    # PyTorch's form: the reset gate multiplies h W_hn + b_hn, which is written on the drawing.
    texts = [t.get_text() for t in ax.texts]
    assert "$h_{t-1} W^n_h + b^n_h$" in texts
    # r feeds the reset product, which lies between r and n.
    r, reset, n = (artists["gates"]["r"], artists["ops"]["reset"], artists["gates"]["n"])
    assert r.get_x() < reset.get_x() < n.get_x()
    assert len(artists["state_path"]) == 3


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_draw_lstm_gradient_paths_draws_both_paths_between_every_pair_of_steps(steps):
    fig, ax = new_axes()
    artists = draw_lstm_gradient_paths(ax, steps=steps)
    fig.canvas.draw()

    boxes, arrows = boxes_and_arrows(ax)
    assert len(artists["c_boxes"]) == len(artists["h_boxes"]) == steps
    assert len(boxes) == 2 * steps
    for key in ("cell_path", "hidden_path", "gate_path"):
        assert len(artists[key]) == steps - 1
    assert len(artists["h_to_c"]) == steps
    assert len(arrows) == 3 * (steps - 1) + steps
    assert artists["labels"][-2:] == ["$c_{t+1}$", "$h_{t+1}$"]
    assert artists["labels"][-4:-2] == ["$c_{t}$", "$h_{t}$"]
    # Backward: every arrow of both paths points from right to left, c on top of h.
    for arrow in artists["cell_path"] + artists["hidden_path"]:
        (x_start, _), (x_end, _) = arrow._posA_posB
        assert x_end < x_start
    assert all(c.get_y() > h.get_y() for c, h in zip(artists["c_boxes"], artists["h_boxes"]))
    texts = [t.get_text() for t in ax.texts]
    assert "$\\odot f_{t+1}$" in texts


@pytest.mark.parametrize("steps", [1, 0, 2.5, "3", True, None])
def test_draw_lstm_gradient_paths_rejects_bad_steps(steps):
    _, ax = new_axes()
    with pytest.raises(ValueError, match="steps"):
        draw_lstm_gradient_paths(ax, steps=steps)
    assert not ax.patches


def test_draw_io_configurations_draws_five_panels_with_their_inputs_states_and_outputs():
    fig, ax = new_axes()
    panels = draw_io_configurations(ax)
    fig.canvas.draw()

    assert list(panels) == ["one-to-one", "one-to-many", "many-to-one", "many-to-many, aligned",
                            "many-to-many, unaligned"]
    # (inputs, states, outputs) of each configuration
    counts = {name: (len(p["x"]), len(p["h"]), len(p["y"])) for name, p in panels.items()}
    assert counts == {"one-to-one": (1, 1, 1), "one-to-many": (1, 3, 3), "many-to-one": (3, 3, 1),
                      "many-to-many, aligned": (3, 3, 3), "many-to-many, unaligned": (3, 6, 3)}
    boxes, arrows = boxes_and_arrows(ax)
    assert len(boxes) == sum(sum(c) for c in counts.values())
    assert len(arrows) == sum(len(p["arrows"]) for p in panels.values())
    for name, panel in panels.items():
        assert len(panel["recurrent"]) == len(panel["h"]) - 1
        assert panel["title"] == name
        # inputs under the states, outputs above them
        assert all(x.get_y() < panel["h"][0].get_y() < y.get_y() for x in panel["x"] for y in panel["y"])
    # many-to-one writes at its last step, the unaligned one only after it has read every input
    m2o = panels["many-to-one"]
    assert m2o["y"][0].get_x() == m2o["h"][-1].get_x()
    unaligned = panels["many-to-many, unaligned"]
    assert max(x.get_x() for x in unaligned["x"]) < min(y.get_x() for y in unaligned["y"])
    # panels do not overlap: each starts right of the one before
    spans = [(min(b.get_x() for b in p["h"]), max(b.get_x() for b in p["h"])) for p in panels.values()]
    assert all(prev[1] < nxt[0] for prev, nxt in zip(spans, spans[1:]))
    assert set(IO_CONFIGURATIONS) == set(panels)
    assert not ax.axison


@pytest.mark.parametrize("S,T,t", [(4, 3, 2), (1, 1, 1), (6, 4, 4)])
def test_draw_encoder_decoder_attention_sends_every_encoder_state_into_the_context(S, T, t):
    fig, ax = new_axes()
    out = draw_encoder_decoder_attention(ax, source_steps=S, target_steps=T, attend_step=t)
    fig.canvas.draw()

    boxes, arrows = boxes_and_arrows(ax)
    assert len(out["inputs"]) == len(out["encoder"]) == len(out["attention"]) == S
    assert len(out["decoder_inputs"]) == len(out["decoder"]) == len(out["outputs"]) == T
    assert len(boxes) == 2 * S + 3 * T + 1 and out["context"] in boxes
    assert len(arrows) == len(out["arrows"])
    assert (out["query"] is None) == (t == 1)
    # every attention arrow ends at the context box, from its own encoder state
    ctx = out["context"]
    for arrow, state in zip(out["attention"], out["encoder"]):
        (x0, y0), (x1, y1) = arrow._posA_posB
        assert state.get_x() <= x0 <= state.get_x() + state.get_width()
        assert ctx.get_x() <= x1 <= ctx.get_x() + ctx.get_width() and y1 <= ctx.get_y() + 1e-9
    texts = [tx.get_text() for tx in ax.texts]
    assert all(f"$\\alpha_{{{t},{s}}}$" in texts for s in range(1, S + 1))
    # the encoder lies left of the decoder, and the bridge joins h_S to s_1
    assert out["encoder"][-1].get_x() < out["decoder"][0].get_x()
    (x0, _), (x1, _) = out["bridge"]._posA_posB
    assert out["encoder"][-1].get_x() < x0 < x1 < out["decoder"][0].get_x() + out["decoder"][0].get_width()


@pytest.mark.parametrize("kwargs", [{"source_steps": 0}, {"target_steps": 2.5}, {"attend_step": 0},
                                    {"target_steps": 2, "attend_step": 3}, {"source_steps": True}])
def test_draw_encoder_decoder_attention_rejects_bad_sizes(kwargs):
    _, ax = new_axes()
    name = next(iter(kwargs)) if "attend_step" not in kwargs else "attend_step"
    with pytest.raises(ValueError, match=name):
        draw_encoder_decoder_attention(ax, **kwargs)
    assert not ax.patches
