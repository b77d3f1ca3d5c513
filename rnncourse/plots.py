"""Figures of the book, drawn with matplotlib on an ``Axes`` the caller owns.

Every function here draws on the axes it is given and returns the artists it
added; none creates a figure, changes matplotlib's global settings or shows
anything, so a chapter (or a test with the Agg backend) decides what to do with
the drawing. matplotlib is an optional dependency: ``pip install rnncourse[plots]``.
"""
from functools import partial
from numbers import Integral

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# Layout of the unrolled picture, in data coordinates.
_BOX_W, _BOX_H = 0.9, 0.6  # size of one box
_STEP_DX = 1.8  # horizontal distance between two time steps
_X_ROW, _H_ROW = 0.0, 1.6  # vertical centre of the input row and of the state row

_INPUT_STYLE = {"facecolor": "#dbe9f6", "edgecolor": "#1f4e79"}
_STATE_STYLE = {"facecolor": "#fde9d0", "edgecolor": "#9c4a00"}
_H0_STYLE = {"facecolor": "white", "edgecolor": "#9c4a00", "linestyle": "--"}


def _box(ax, centre, label, style):
    """Draw one rounded box with a centred label; return ``(patch, text)``."""
    cx, cy = centre
    patch = FancyBboxPatch(
        (cx - _BOX_W / 2, cy - _BOX_H / 2), _BOX_W, _BOX_H,
        boxstyle="round,pad=0.02,rounding_size=0.12", linewidth=1.5, **style,
    )
    ax.add_patch(patch)
    text = ax.text(cx, cy, label, ha="center", va="center", fontsize=13)
    return patch, text


def _arrow(ax, start, end, label, label_offset):
    """Draw an arrow from ``start`` to ``end`` with a label beside its middle."""
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, linewidth=1.4, color="#333333")
    ax.add_patch(arrow)
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    text = ax.text(mx + label_offset[0], my + label_offset[1], label, ha="center", va="center",
                   fontsize=11, color="#333333")
    return arrow, text


def draw_unrolled_rnn(ax, steps=4):
    """Draw a recurrent layer unrolled over ``steps`` time steps.

    The bottom row holds the inputs :math:`x_1, \\dots, x_T`, the top row the
    states :math:`h_1, \\dots, h_T`, preceded by the initial state :math:`h_0`
    (dashed). Each input feeds its state through an arrow labelled
    :math:`W_x`; each state feeds the next through an arrow labelled
    :math:`W_h`. A note above the states says that the same :math:`W_x`,
    :math:`W_h` and :math:`b` are used at every step. The axes are switched off
    and their limits set to fit the drawing.

    Args:
        ax: matplotlib axes to draw on (not cleared first)
        steps: number of time steps T to draw, an integer >= 1

    Returns:
        dict of the artists added, keys ``"x_boxes"`` (T patches), ``"h_boxes"``
        (T patches, the state boxes without h0), ``"h0_box"`` (one patch),
        ``"input_arrows"`` (T arrows), ``"recurrent_arrows"`` (T arrows, the
        first one from h0) and ``"labels"`` (the text of every box label, in the
        order x_1, h_1, x_2, h_2, ...)
    """
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)

    h0_patch, _ = _box(ax, (0.0, _H_ROW), "$h_0$", _H0_STYLE)
    artists = {"x_boxes": [], "h_boxes": [], "h0_box": h0_patch,
               "input_arrows": [], "recurrent_arrows": [], "labels": []}
    gap = (_STEP_DX - _BOX_W) / 2
    for t in range(1, steps + 1):
        cx = t * _STEP_DX
        x_patch, x_text = _box(ax, (cx, _X_ROW), f"$x_{{{t}}}$", _INPUT_STYLE)
        h_patch, h_text = _box(ax, (cx, _H_ROW), f"$h_{{{t}}}$", _STATE_STYLE)
        up, _ = _arrow(ax, (cx, _X_ROW + _BOX_H / 2), (cx, _H_ROW - _BOX_H / 2), "$W_x$", (0.3, 0.0))
        right, _ = _arrow(ax, (cx - _STEP_DX + _BOX_W / 2, _H_ROW), (cx - _BOX_W / 2, _H_ROW),
                          "$W_h$", (0.0, 0.22))
        artists["x_boxes"].append(x_patch)
        artists["h_boxes"].append(h_patch)
        artists["input_arrows"].append(up)
        artists["recurrent_arrows"].append(right)
        artists["labels"] += [x_text.get_text(), h_text.get_text()]

    right_edge = steps * _STEP_DX + _BOX_W / 2 + gap
    ax.text((right_edge - _BOX_W / 2 - gap) / 2, _H_ROW + _BOX_H / 2 + 0.45,
            "the same $W_x$, $W_h$, $b$ at every step", ha="center", va="center",
            fontsize=11, style="italic")
    ax.set_xlim(-_BOX_W / 2 - gap, right_edge)
    ax.set_ylim(_X_ROW - _BOX_H / 2 - 0.2, _H_ROW + _BOX_H / 2 + 0.75)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return artists


# ---- the gated cells and the two gradient paths of an LSTM --------------------------------
_GATE_STYLE = {"facecolor": "#e4f1de", "edgecolor": "#2e6b1f"}
_OP_STYLE = {"facecolor": "white", "edgecolor": "#333333"}
_CELL_STYLE = {"facecolor": "#f3e3f5", "edgecolor": "#6b2a73"}
_CELL_PATH_COLOUR = "#6b2a73"
_HIDDEN_PATH_COLOUR = "#9c4a00"


def _node(ax, centre, label, style, width=0.9, height=0.55, fontsize=12):
    """Draw a rounded box of the given size with a centred label; return ``(patch, text)``."""
    cx, cy = centre
    patch = FancyBboxPatch(
        (cx - width / 2, cy - height / 2), width, height,
        boxstyle="round,pad=0.02,rounding_size=0.1", linewidth=1.4, **style,
    )
    ax.add_patch(patch)
    text = ax.text(cx, cy, label, ha="center", va="center", fontsize=fontsize)
    return patch, text


def _link(ax, start, end, colour="#333333", label=None, label_offset=(0.0, 0.0), style="-|>",
          linestyle="-", rad=0.0, fontsize=10):
    """Draw an arrow from ``start`` to ``end``, optionally curved and labelled; return ``(arrow, text)``."""
    arrow = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=13, linewidth=1.4,
                            color=colour, linestyle=linestyle, connectionstyle=f"arc3,rad={rad}",
                            shrinkA=0, shrinkB=0)
    ax.add_patch(arrow)
    text = None
    if label is not None:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        text = ax.text(mx + label_offset[0], my + label_offset[1], label, ha="center", va="center",
                       fontsize=fontsize, color=colour)
    return arrow, text


def _add_node(ax, out, group, name, centre, label, style, **size):
    """Draw a box with :func:`_node` and record it: ``out[group][name]`` gets the patch and
    ``out["labels"][name]`` its label text. Returns the patch."""
    patch, text = _node(ax, centre, label, style, **size)
    out[group][name] = patch
    out["labels"][name] = text.get_text()
    return patch


def _add_arrow(ax, out, start, end, **kw):
    """Draw an arrow with :func:`_link` and append it to ``out["arrows"]``. Returns the arrow."""
    arrow, _ = _link(ax, start, end, **kw)
    out["arrows"].append(arrow)
    return arrow


def _finish(ax, xlim, ylim):
    """Set the limits, an equal aspect and no axes."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_axis_off()


def draw_lstm_cell(ax):
    """Draw one step of an LSTM in PyTorch's form (gates i, f, g, o).

    Bottom: the inputs :math:`h_{t-1}` and :math:`x_t`, which feed the four gate
    boxes (:math:`\\sigma` for i, f, o and :math:`\\tanh` for the candidate g)
    through one affine map :math:`x_t W_x + h_{t-1} W_h + b`. Top: the cell path
    :math:`c_{t-1} \\to \\odot f_t \\to + \\to c_t`, on which no weight matrix
    acts. Right: :math:`h_t = o_t \\odot \\tanh(c_t)`. The equations are
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot g_t` and
    :math:`h_t = o_t \\odot \\tanh(c_t)`.

    Args:
        ax: matplotlib axes to draw on (not cleared first)

    Returns:
        dict of the artists added: ``"gates"`` (dict name -> patch for
        ``"i"``, ``"f"``, ``"g"``, ``"o"``), ``"ops"`` (dict name -> patch for
        ``"forget"`` (f ⊙ c), ``"write"`` (i ⊙ g), ``"add"``, ``"tanh_c"``,
        ``"show"`` (o ⊙ tanh c)), ``"states"`` (dict name -> patch for
        ``"c_prev"``, ``"h_prev"``, ``"x"``, ``"c"``, ``"h"``),
        ``"cell_path"`` (the arrows from :math:`c_{t-1}` to :math:`c_t`, in
        order), ``"arrows"`` (every arrow) and ``"labels"`` (dict name -> label
        text of every box)
    """
    out = {"gates": {}, "ops": {}, "states": {}, "cell_path": [], "arrows": [], "labels": {}}
    add, arrow = partial(_add_node, ax, out), partial(_add_arrow, ax, out)

    y_cell, y_ops, y_gates, y_in = 3.2, 2.1, 0.9, -0.5
    add("states", "c_prev", (0.0, y_cell), "$c_{t-1}$", _CELL_STYLE)
    add("states", "h_prev", (0.0, y_in), "$h_{t-1}$", _STATE_STYLE)
    add("states", "x", (1.4, y_in - 0.9), "$x_t$", _INPUT_STYLE)
    add("states", "c", (8.0, y_cell), "$c_t$", _CELL_STYLE)
    add("states", "h", (8.0, y_ops - 0.6), "$h_t$", _STATE_STYLE)
    gate_x = {"f": 2.0, "i": 3.3, "g": 4.5, "o": 5.8}
    gate_label = {"f": "$\\sigma$ : $f_t$", "i": "$\\sigma$ : $i_t$", "g": "tanh : $g_t$",
                  "o": "$\\sigma$ : $o_t$"}
    for name, gx in gate_x.items():
        add("gates", name, (gx, y_gates), gate_label[name], _GATE_STYLE, width=1.1)
    small = {"width": 0.5, "height": 0.5, "fontsize": 13}
    add("ops", "forget", (2.0, y_cell), "$\\odot$", _OP_STYLE, **small)
    add("ops", "write", (3.9, y_ops), "$\\odot$", _OP_STYLE, **small)
    add("ops", "add", (3.9, y_cell), "$+$", _OP_STYLE, **small)
    add("ops", "tanh_c", (6.6, y_ops + 0.45), "tanh", _OP_STYLE, width=0.8, height=0.45, fontsize=11)
    add("ops", "show", (6.6, y_ops - 0.6), "$\\odot$", _OP_STYLE, **small)

    # The cell path, drawn thick in its own colour: no weight matrix on it.
    for start, end in [((0.45, y_cell), (1.75, y_cell)), ((2.25, y_cell), (3.65, y_cell)),
                       ((4.15, y_cell), (7.55, y_cell))]:
        out["cell_path"].append(arrow(start, end, colour=_CELL_PATH_COLOUR))
    ax.text(5.3, y_cell + 0.35, "cell path: no weight matrix", ha="center", fontsize=10,
            color=_CELL_PATH_COLOUR, style="italic")
    # The affine map of the inputs feeds every gate: a bus under the gates.
    bus_y = y_gates - 0.75
    ax.plot([0.45, 5.8], [bus_y, bus_y], color="#333333", lw=1.4)
    arrow((0.0, y_in + 0.28), (0.0, bus_y), style="-")
    arrow((1.4, y_in - 0.62), (1.4, bus_y), style="-")
    ax.text(0.7, bus_y - 0.3, "$x_t W_x + h_{t-1} W_h + b$", ha="left", fontsize=10)
    for gx in gate_x.values():
        arrow((gx, bus_y), (gx, y_gates - 0.28))
    # Gates into the operators.
    arrow((2.0, y_gates + 0.28), (2.0, y_cell - 0.25))               # f -> f * c
    arrow((3.3, y_gates + 0.28), (3.75, y_ops - 0.22))               # i -> i * g
    arrow((4.5, y_gates + 0.28), (4.05, y_ops - 0.22))               # g -> i * g
    arrow((3.9, y_ops + 0.25), (3.9, y_cell - 0.25))                 # i * g -> +
    arrow((6.6, y_cell), (6.6, y_ops + 0.68))                        # c_t -> tanh
    arrow((6.6, y_ops + 0.22), (6.6, y_ops - 0.35))                  # tanh -> o * tanh
    arrow((5.8, y_gates + 0.28), (6.38, y_ops - 0.7))                # o -> o * tanh
    arrow((6.85, y_ops - 0.6), (7.55, y_ops - 0.6))                  # -> h_t
    _finish(ax, (-0.6, 8.6), (y_in - 1.35, y_cell + 0.75))
    return out


def draw_gru_cell(ax):
    """Draw one step of a GRU in PyTorch's form (gates r, z and candidate n).

    :math:`r_t = \\sigma(\\cdot)` and :math:`z_t = \\sigma(\\cdot)` come from
    :math:`x_t` and :math:`h_{t-1}`; the candidate is
    :math:`n_t = \\tanh(x_t W^n_x + b^n_x + r_t \\odot (h_{t-1} W^n_h + b^n_h))`:
    the reset gate multiplies the product :math:`h_{t-1} W^n_h + b^n_h`, after
    it is computed. The state path on top is
    :math:`h_t = z_t \\odot h_{t-1} + (1 - z_t) \\odot n_t`.

    Args:
        ax: matplotlib axes to draw on (not cleared first)

    Returns:
        dict of the artists added: ``"gates"`` (dict name -> patch for ``"r"``,
        ``"z"``, ``"n"``), ``"ops"`` (dict name -> patch for ``"reset"``
        (r ⊙ (h W_hn + b_hn)), ``"keep"`` (z ⊙ h), ``"one_minus"`` (1 - z),
        ``"take"`` ((1 - z) ⊙ n), ``"add"``), ``"states"`` (dict name -> patch for
        ``"h_prev"``, ``"x"``, ``"h"``), ``"state_path"`` (the arrows from
        :math:`h_{t-1}` to :math:`h_t` along the top, in order), ``"arrows"``
        (every arrow) and ``"labels"`` (dict name -> label text of every box)
    """
    out = {"gates": {}, "ops": {}, "states": {}, "state_path": [], "arrows": [], "labels": {}}
    add, arrow = partial(_add_node, ax, out), partial(_add_arrow, ax, out)

    y_top, y_ops, y_gates, y_in = 3.2, 2.1, 0.9, -0.5
    add("states", "h_prev", (0.0, y_top), "$h_{t-1}$", _STATE_STYLE)
    add("states", "x", (0.0, y_in), "$x_t$", _INPUT_STYLE)
    add("states", "h", (8.0, y_top), "$h_t$", _STATE_STYLE)
    add("gates", "z", (2.0, y_gates), "$\\sigma$ : $z_t$", _GATE_STYLE, width=1.1)
    add("gates", "r", (3.6, y_gates), "$\\sigma$ : $r_t$", _GATE_STYLE, width=1.1)
    add("gates", "n", (6.4, y_gates), "tanh : $n_t$", _GATE_STYLE, width=1.1)
    small = {"width": 0.5, "height": 0.5, "fontsize": 13}
    add("ops", "reset", (5.0, y_gates), "$\\odot$", _OP_STYLE, **small)
    add("ops", "keep", (2.0, y_top), "$\\odot$", _OP_STYLE, **small)
    add("ops", "one_minus", (3.0, y_ops), "$1-$", _OP_STYLE, **small)
    add("ops", "take", (6.4, y_ops), "$\\odot$", _OP_STYLE, **small)
    add("ops", "add", (6.4, y_top), "$+$", _OP_STYLE, **small)

    # The state path, on top: h_{t-1} reaches h_t multiplied by z_t only.
    for start, end in [((0.45, y_top), (1.75, y_top)), ((2.25, y_top), (6.15, y_top)),
                       ((6.65, y_top), (7.55, y_top))]:
        out["state_path"].append(arrow(start, end, colour=_HIDDEN_PATH_COLOUR))
    ax.text(4.2, y_top + 0.35, "$z_t \\odot h_{t-1}$: no weight matrix", ha="center", fontsize=10,
            color=_HIDDEN_PATH_COLOUR, style="italic")
    bus_y = y_gates - 0.75
    ax.plot([0.0, 6.4], [bus_y, bus_y], color="#333333", lw=1.4)
    arrow((0.0, y_in + 0.28), (0.0, bus_y), style="-")
    arrow((0.0, y_top - 0.28), (0.0, bus_y), style="-", linestyle=":")
    ax.text(0.15, bus_y - 0.3, "$x_t W_x + b_x$, $h_{t-1} W_h + b_h$", ha="left", fontsize=10)
    for gx in (2.0, 3.6):
        arrow((gx, bus_y), (gx, y_gates - 0.28))
    arrow((5.0, bus_y), (5.0, y_gates - 0.25))
    ax.text(5.0, bus_y - 0.3, "$h_{t-1} W^n_h + b^n_h$", ha="center", fontsize=10)
    arrow((6.4, bus_y), (6.4, y_gates - 0.28))
    ax.text(6.7, bus_y - 0.3, "$x_t W^n_x + b^n_x$", ha="left", fontsize=10)
    arrow((4.15, y_gates), (4.75, y_gates))                           # r -> reset
    arrow((5.25, y_gates), (5.85, y_gates))                           # reset -> n
    arrow((2.0, y_gates + 0.28), (2.0, y_top - 0.25))                 # z -> keep
    arrow((2.3, y_gates + 0.28), (2.8, y_ops - 0.25))                 # z -> 1 - z
    arrow((3.25, y_ops), (6.15, y_ops))                               # 1 - z -> take
    arrow((6.4, y_gates + 0.28), (6.4, y_ops - 0.25))                 # n -> take
    arrow((6.4, y_ops + 0.25), (6.4, y_top - 0.25))                   # take -> +
    _finish(ax, (-0.6, 8.9), (y_in - 0.6, y_top + 0.75))
    return out


def draw_lstm_gradient_paths(ax, steps=3):
    """Draw the two paths of backpropagation through time in an LSTM.

    ``steps`` time steps side by side, each with its cell state :math:`c_t`
    (top) and hidden state :math:`h_t` (bottom). The backward arrows go from
    right to left: along the top, the *cell path*
    :math:`\\mathrm{d}c_{t-1} \\mathrel{+}= \\mathrm{d}c_t \\odot f_t`, element
    by element, with no weight matrix; along the bottom, the *hidden path*
    through :math:`W_h^\\top` and the derivatives of the gates. Inside each
    step a vertical arrow carries :math:`\\mathrm{d}h_t` into
    :math:`\\mathrm{d}c_t` through :math:`o_t \\odot (1 - \\tanh^2 c_t)`, and
    the gradients reach :math:`h_{t-1}` also from :math:`\\mathrm{d}c_t` through
    the gates (diagonal arrows).

    Args:
        ax: matplotlib axes to draw on (not cleared first)
        steps: number of time steps to draw, an integer >= 2

    Returns:
        dict of the artists added: ``"c_boxes"`` and ``"h_boxes"`` (``steps``
        patches each, left to right), ``"cell_path"`` (``steps - 1`` arrows,
        dc_t -> dc_{t-1}), ``"hidden_path"`` (``steps - 1`` arrows, dh_t ->
        dh_{t-1}), ``"gate_path"`` (``steps - 1`` arrows, dc_t -> dh_{t-1}),
        ``"h_to_c"`` (``steps`` arrows, dh_t -> dc_t) and ``"labels"`` (the
        text of every box, c then h, left to right)
    """
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    if steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps}")
    steps = int(steps)
    out = {"c_boxes": [], "h_boxes": [], "cell_path": [], "hidden_path": [], "gate_path": [],
           "h_to_c": [], "labels": []}
    dx, y_c, y_h = 2.6, 1.8, 0.0
    names = ["t+1" if k == steps - 1 else "t" if k == steps - 2 else f"t-{steps - 2 - k}"
             for k in range(steps)]
    for k, name in enumerate(names):
        cx = k * dx
        c_patch, c_text = _node(ax, (cx, y_c), f"$c_{{{name}}}$", _CELL_STYLE)
        h_patch, h_text = _node(ax, (cx, y_h), f"$h_{{{name}}}$", _STATE_STYLE)
        out["c_boxes"].append(c_patch)
        out["h_boxes"].append(h_patch)
        out["labels"] += [c_text.get_text(), h_text.get_text()]
        a, _ = _link(ax, (cx, y_h + 0.28), (cx, y_c - 0.28), colour="#555555", linestyle="--",
                     label="$o \\odot \\tanh'$" if k == steps - 1 else None, label_offset=(0.5, 0.0))
        out["h_to_c"].append(a)
    for k in range(steps - 1, 0, -1):
        right, left = k * dx, (k - 1) * dx
        name = names[k]
        a, _ = _link(ax, (right - 0.45, y_c), (left + 0.45, y_c), colour=_CELL_PATH_COLOUR,
                     label=f"$\\odot f_{{{name}}}$", label_offset=(0.0, 0.25))
        out["cell_path"].append(a)
        a, _ = _link(ax, (right - 0.45, y_h), (left + 0.45, y_h), colour=_HIDDEN_PATH_COLOUR,
                     label="$W_h^\\top$, gates", label_offset=(0.0, -0.25))
        out["hidden_path"].append(a)
        a, _ = _link(ax, (right - 0.45, y_c - 0.2), (left + 0.45, y_h + 0.2), colour="#999999",
                     linestyle=":")
        out["gate_path"].append(a)
    ax.text((steps - 1) * dx / 2, y_c + 0.65, "cell path: element-wise, no weight matrix",
            ha="center", fontsize=10, color=_CELL_PATH_COLOUR, style="italic")
    ax.text((steps - 1) * dx / 2, y_h - 0.7, "hidden path: a matrix and gate slopes per step",
            ha="center", fontsize=10, color=_HIDDEN_PATH_COLOUR, style="italic")
    ax.text((steps - 1) * dx + 0.6, (y_c + y_h) / 2 - 0.55, "loss", fontsize=10, ha="left")
    _finish(ax, (-0.7, (steps - 1) * dx + 1.3), (y_h - 1.0, y_c + 0.95))
    return out


# ---- input-output configurations and the encoder-decoder with attention ---------------------
_OUTPUT_STYLE = {"facecolor": "#e4f1de", "edgecolor": "#2e6b1f"}
_DECODER_STYLE = {"facecolor": "#f3e3f5", "edgecolor": "#6b2a73"}
_ATTENTION_COLOUR = "#1f4e79"

#: The five input-output configurations drawn by :func:`draw_io_configurations`, in order, with
#: (steps that read an input, steps of the recurrent state, steps that give an output); the
#: unaligned case reads its inputs at the first three steps and writes at the last three.
IO_CONFIGURATIONS = {
    "one-to-one": ((0,), 1, (0,)),
    "one-to-many": ((0,), 3, (0, 1, 2)),
    "many-to-one": ((0, 1, 2), 3, (2,)),
    "many-to-many, aligned": ((0, 1, 2), 3, (0, 1, 2)),
    "many-to-many, unaligned": ((0, 1, 2), 6, (3, 4, 5)),
}


def draw_io_configurations(ax):
    """Draw the five input-output configurations of a recurrent network side by side.

    Each panel has a row of inputs :math:`x` (bottom), a row of states :math:`h`
    (middle) and a row of outputs :math:`y` (top), one column per time step, with
    the recurrent arrows between neighbouring states. The panels, left to right,
    are the keys of :data:`IO_CONFIGURATIONS`: one-to-one (one step, an MLP),
    one-to-many (one input, three outputs), many-to-one (three inputs, one output
    at the last step), many-to-many aligned (an output at every input step, as in
    tagging) and many-to-many unaligned (an encoder reads three inputs, then a
    decoder writes three outputs, as in translation).

    Args:
        ax: matplotlib axes to draw on (not cleared first)

    Returns:
        dict name -> panel for each name of :data:`IO_CONFIGURATIONS`, each panel a
        dict with ``"x"``, ``"h"`` and ``"y"`` (the box patches of each row, left to
        right), ``"recurrent"`` (the arrows from state to state), ``"arrows"``
        (every arrow of the panel) and ``"title"`` (the panel's title text)
    """
    dx, y_x, y_h, y_y, size = 1.0, 0.0, 1.1, 2.2, {"width": 0.62, "height": 0.46, "fontsize": 10}
    panels, slot_start = {}, 0.0
    for name, (reads, steps, writes) in IO_CONFIGURATIONS.items():
        # Each panel gets a slot as wide as its boxes or its title, whichever is wider.
        slot = max(steps * dx, 0.15 * len(name) + 0.4)
        left = slot_start + (slot - (steps - 1) * dx) / 2
        slot_start += slot + 0.3
        panel = {"x": [], "h": [], "y": [], "recurrent": [], "arrows": []}
        for k in range(steps):
            cx = left + k * dx
            style = _DECODER_STYLE if name.endswith("unaligned") and k >= 3 else _STATE_STYLE
            panel["h"].append(_node(ax, (cx, y_h), f"$h_{{{k + 1}}}$", style, **size)[0])
            if k in reads:
                panel["x"].append(_node(ax, (cx, y_x), f"$x_{{{len(panel['x']) + 1}}}$", _INPUT_STYLE, **size)[0])
                panel["arrows"].append(_link(ax, (cx, y_x + 0.23), (cx, y_h - 0.23))[0])
            if k in writes:
                panel["y"].append(_node(ax, (cx, y_y), f"$y_{{{len(panel['y']) + 1}}}$", _OUTPUT_STYLE, **size)[0])
                panel["arrows"].append(_link(ax, (cx, y_h + 0.23), (cx, y_y - 0.23))[0])
            if k > 0:
                arrow = _link(ax, (cx - dx + 0.31, y_h), (cx - 0.31, y_h), colour=_HIDDEN_PATH_COLOUR)[0]
                panel["recurrent"].append(arrow)
                panel["arrows"].append(arrow)
        centre = left + (steps - 1) * dx / 2
        panel["title"] = ax.text(centre, y_y + 0.65, name, ha="center", va="center", fontsize=10,
                                 weight="bold").get_text()
        panels[name] = panel
    _finish(ax, (-0.1, slot_start - 0.2), (y_x - 0.45, y_y + 0.95))
    return panels


def draw_encoder_decoder_attention(ax, source_steps=4, target_steps=3, attend_step=2):
    """Draw an encoder-decoder (seq2seq) with additive attention at one decoder step.

    The encoder (left) reads :math:`x_1, \\dots, x_S` into states
    :math:`h_1, \\dots, h_S`; its last state initialises the decoder (the
    fixed-size context of a plain encoder-decoder). The decoder (right) has states
    :math:`s_1, \\dots, s_{T'}`, reads the previous output token
    :math:`y_{t-1}` (teacher forcing in training, its own prediction when it
    decodes) and writes :math:`y_t`. At decoder step ``attend_step`` the drawing
    shows attention: every encoder state sends an arrow, weighted by
    :math:`\\alpha_{t,s}`, into the context vector
    :math:`c_t = \\sum_s \\alpha_{t,s} h_s`, which the decoder state
    :math:`s_t` reads; the previous decoder state is the query (dashed).

    Args:
        ax: matplotlib axes to draw on (not cleared first)
        source_steps: S, an integer >= 1
        target_steps: T', an integer >= 1
        attend_step: the decoder step t (1-based, 1 <= t <= target_steps) whose attention is drawn

    Returns:
        dict of the artists added: ``"inputs"``, ``"encoder"`` (S patches each),
        ``"decoder_inputs"``, ``"decoder"``, ``"outputs"`` (T' patches each),
        ``"context"`` (one patch), ``"attention"`` (S arrows, encoder state ->
        context, left to right), ``"query"`` (the dashed arrow into the context, or
        None when t = 1 and the query is the encoder's last state), ``"bridge"``
        (the arrow from h_S to s_1), ``"arrows"`` (every arrow) and ``"labels"``
        (the text of every box, in drawing order)
    """
    for name, value, low in (("source_steps", source_steps, 1), ("target_steps", target_steps, 1),
                             ("attend_step", attend_step, 1)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    if attend_step > target_steps:
        raise ValueError(f"attend_step must be between 1 and target_steps = {target_steps}, got {attend_step}")
    S, T, t_att = int(source_steps), int(target_steps), int(attend_step)
    out = {"inputs": [], "encoder": [], "decoder_inputs": [], "decoder": [], "outputs": [],
           "attention": [], "arrows": [], "labels": []}
    dx, y_in, y_state, y_out, y_ctx = 1.3, 0.0, 1.3, 2.6, 3.6
    size = {"width": 0.8, "height": 0.5, "fontsize": 11}

    def box(group, centre, label, style):
        patch, text = _node(ax, centre, label, style, **size)
        out[group].append(patch)
        out["labels"].append(text.get_text())
        return patch

    def arrow(start, end, **kw):
        a, _ = _link(ax, start, end, **kw)
        out["arrows"].append(a)
        return a

    for s in range(1, S + 1):
        cx = (s - 1) * dx
        box("inputs", (cx, y_in), f"$x_{{{s}}}$", _INPUT_STYLE)
        box("encoder", (cx, y_state), f"$h_{{{s}}}$", _STATE_STYLE)
        arrow((cx, y_in + 0.25), (cx, y_state - 0.25))
        if s > 1:
            arrow((cx - dx + 0.4, y_state), (cx - 0.4, y_state), colour=_HIDDEN_PATH_COLOUR)
    start = S * dx + 0.9
    dec_x = [start + (t - 1) * dx for t in range(1, T + 1)]
    for t, cx in enumerate(dec_x, 1):
        box("decoder_inputs", (cx, y_in), "<s>" if t == 1 else f"$y_{{{t - 1}}}$", _INPUT_STYLE)
        box("decoder", (cx, y_state), f"$s_{{{t}}}$", _DECODER_STYLE)
        box("outputs", (cx, y_out), f"$y_{{{t}}}$", _OUTPUT_STYLE)
        arrow((cx, y_in + 0.25), (cx, y_state - 0.25))
        arrow((cx, y_state + 0.25), (cx, y_out - 0.25))
        if t > 1:
            arrow((cx - dx + 0.4, y_state), (cx - 0.4, y_state), colour=_HIDDEN_PATH_COLOUR)
    out["bridge"] = arrow(((S - 1) * dx + 0.4, y_state), (dec_x[0] - 0.4, y_state), colour=_HIDDEN_PATH_COLOUR)
    ax.text((S - 1) * dx / 2, y_in - 0.55, "encoder", ha="center", fontsize=11, weight="bold")
    ax.text((dec_x[0] + dec_x[-1]) / 2, y_in - 0.55, "decoder", ha="center", fontsize=11, weight="bold")

    ctx_x = (S - 1) * dx / 2 + 0.4 * dx
    patch, text = _node(ax, (ctx_x, y_ctx), f"$c_{{{t_att}}}$", {"facecolor": "white",
                        "edgecolor": _ATTENTION_COLOUR}, **size)
    out["context"] = patch
    out["labels"].append(text.get_text())
    spread = max(ctx_x, (S - 1) * dx - ctx_x, 1e-9)   # the arrows end spread over the context box
    for s in range(1, S + 1):
        cx = (s - 1) * dx
        end_x = ctx_x + 0.3 * (cx - ctx_x) / spread
        a = arrow((cx, y_state + 0.25), (end_x, y_ctx - 0.25), colour=_ATTENTION_COLOUR,
                  label=f"$\\alpha_{{{t_att},{s}}}$", label_offset=(-0.25 if cx < ctx_x else 0.25, 0.0))
        out["attention"].append(a)
    target = dec_x[t_att - 1]
    arrow((ctx_x + 0.4, y_ctx), (target - 0.1, y_state + 0.25), colour=_ATTENTION_COLOUR, rad=-0.15)
    out["query"] = None
    if t_att > 1:
        out["query"] = arrow((dec_x[t_att - 2] - 0.4, y_state + 0.2), (ctx_x + 0.4, y_ctx - 0.1),
                             colour="#777777", linestyle="--")
    ax.text(ctx_x, y_ctx + 0.5, f"$c_{{{t_att}}} = \\sum_s \\alpha_{{{t_att},s}} h_s$",
            ha="center", fontsize=11, color=_ATTENTION_COLOUR)
    _finish(ax, (-0.6, dec_x[-1] + 0.6), (y_in - 0.8, y_ctx + 0.85))
    return out
