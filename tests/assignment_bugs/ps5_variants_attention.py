"""Realistic bugs of ps5_variants_attention, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
Here every test cell a bug does not list as failing must keep its points, so each bug loses exactly
the cells listed.
"""
FUNCTIONS = {  # function -> its test cells (grade ids without the "test_" prefix and function name)
    "embedding_forward": ("main", "edges", "hidden"),
    "embedding_backward": ("main", "edges", "hidden"),
    "temporal_affine_forward": ("main", "edges", "hidden"),
    "temporal_affine_backward": ("main", "edges", "hidden"),
    "temporal_softmax_loss": ("main", "large_scores", "edges", "hidden"),
    "last_state_by_length": ("main", "edges", "hidden"),
    "bidirectional_rnn_forward": ("main", "edges", "hidden"),
    "additive_attention_forward": ("main", "large_scores", "edges", "hidden"),
    "additive_attention_backward": ("main", "edges", "hidden"),
    "rnn_greedy_decode": ("main", "edges", "hidden"),
}
TEST_CELLS = {f"test_{function}_{cell}" for function, cells in FUNCTIONS.items() for cell in cells}


def bug(student, old, new, *failing):
    """A bug that fails exactly the test cells ``failing`` ("function" for all its cells, or "function:cell")."""
    must_fail = set()
    for name in failing:
        function, _, cell = name.partition(":")
        must_fail |= {f"test_{function}_{c}" for c in ((cell,) if cell else FUNCTIONS[function])}
    assert must_fail <= TEST_CELLS, must_fail - TEST_CELLS
    return student, old, new, must_fail, TEST_CELLS - must_fail


BUGS = [
    # The mask ignored: the loss is the mean over every position, padded ones included (the padded
    # targets used as if real). The edge cases have no padding (N=1, T=1) or V=1, so they keep their point.
    bug("bug_loss_mask_ignored",
        "weights = mask / mask.sum()  # 1/R at the real positions, 0 at the padded ones\n"
        "    safe_targets = np.where(mask, targets, 0)",
        "weights = np.ones(mask.shape) / mask.size  # 1/R at the real positions, 0 at the padded ones\n"
        "    safe_targets = targets",
        "temporal_softmax_loss:main", "temporal_softmax_loss:large_scores", "temporal_softmax_loss:hidden"),
    # Padded positions masked out of the sum, but the sum divided by all N*T positions.
    bug("bug_loss_mean_over_all_positions",
        "weights = mask / mask.sum()", "weights = mask / mask.size",
        "temporal_softmax_loss:main", "temporal_softmax_loss:large_scores", "temporal_softmax_loss:hidden"),
    # Backward direction run over the whole padded row reversed: it starts on padding (every case
    # with a sequence shorter than T; the edge case N=1 has none, T=1 neither, but D=1 and H=1 do).
    bug("bug_bidirectional_starts_at_padded_end",
        "reverse_each(rnn_states(reverse_each(x, lengths), Wx_b, Wh_b, b_b), lengths)",
        "rnn_states(x[:, ::-1], Wx_b, Wh_b, b_b)[:, ::-1]",
        "bidirectional_rnn_forward"),
    # log-softmax without the max shift: exp overflows on large scores, in the loss and in attention.
    bug("bug_softmax_without_max_shift",
        "shifted = scores - scores.max(axis=axis, keepdims=True)", "shifted = scores",
        "temporal_softmax_loss:large_scores", "additive_attention_forward:large_scores"),
    # Attention weights normalised over the batch axis instead of the source positions (the
    # backward pass uses the forward's weights, so it fails too).
    bug("bug_attention_softmax_wrong_axis",
        "weights = np.exp(log_softmax(scores, axis=1))", "weights = np.exp(log_softmax(scores, axis=0))",
        "additive_attention_forward", "additive_attention_backward"),
    # Fancy-index accumulation: a token that occurs several times gets only one of its rows.
    bug("bug_embedding_backward_fancy_index",
        "np.add.at(dW, tokens, dout)", "dW[tokens] += dout",
        "embedding_backward"),
    # The last column of the padded batch instead of each sequence's last real step.
    bug("bug_last_state_last_column",
        "h[np.arange(N), lengths - 1]", "h[:, -1]",
        "last_state_by_length"),
    # The decoder fed start_token at every step instead of its own previous prediction.
    bug("bug_greedy_decode_feeds_start_token",
        "token = (h @ W_out + b_out).argmax(axis=1)\n        tokens[:, t] = token",
        "tokens[:, t] = (h @ W_out + b_out).argmax(axis=1)",
        "rnn_greedy_decode"),
    # The keys' path as values left out of dkeys.
    bug("bug_attention_dkeys_without_values_path",
        "dkeys = weights[..., None] * dcontext[:, None, :] + da @ Wk.T", "dkeys = da @ Wk.T",
        "additive_attention_backward"),
    # The bias gradient of the temporal affine layer averaged instead of summed.
    bug("bug_affine_db_averaged",
        "db = dout.sum(axis=(0, 1))", "db = dout.mean(axis=(0, 1))",
        "temporal_affine_backward"),
]
