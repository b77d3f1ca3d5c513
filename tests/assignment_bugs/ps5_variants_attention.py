"""Realistic bugs of ps5_variants_attention, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
"""
BUGS = [
    # The mask ignored: the loss is the mean over every position, padded ones included.
    ("bug_loss_mask_ignored",
     "weights = mask / mask.sum()  # 1/R at the real positions, 0 at the padded ones\n"
     "    safe_targets = np.where(mask, targets, 0)",
     "weights = np.ones(mask.shape) / mask.size  # 1/R at the real positions, 0 at the padded ones\n"
     "    safe_targets = targets",
     {"test_temporal_softmax_loss_main", "test_temporal_softmax_loss_large_scores",
      "test_temporal_softmax_loss_hidden"},
     {"test_temporal_softmax_loss_edges", "test_additive_attention_forward_main", "test_embedding_backward_main"}),
    # Padded positions masked out of the sum, but the sum divided by all N*T positions.
    ("bug_loss_mean_over_all_positions",
     "weights = mask / mask.sum()", "weights = mask / mask.size",
     {"test_temporal_softmax_loss_main", "test_temporal_softmax_loss_large_scores",
      "test_temporal_softmax_loss_hidden"},
     {"test_temporal_softmax_loss_edges", "test_additive_attention_forward_main"}),
    # Backward direction run over the whole padded row reversed: it starts on padding.
    ("bug_bidirectional_starts_at_padded_end",
     "reverse_each(rnn_states(reverse_each(x, lengths), Wx_b, Wh_b, b_b), lengths)",
     "rnn_states(x[:, ::-1], Wx_b, Wh_b, b_b)[:, ::-1]",
     {"test_bidirectional_rnn_forward_main", "test_bidirectional_rnn_forward_hidden"},
     {"test_last_state_by_length_main", "test_temporal_softmax_loss_main", "test_rnn_greedy_decode_main"}),
    # log-softmax without the max shift: exp overflows on large scores (loss and attention).
    ("bug_softmax_without_max_shift",
     "shifted = scores - scores.max(axis=axis, keepdims=True)", "shifted = scores",
     {"test_temporal_softmax_loss_large_scores", "test_additive_attention_forward_large_scores"},
     {"test_temporal_softmax_loss_main", "test_temporal_softmax_loss_edges", "test_additive_attention_forward_main",
      "test_additive_attention_backward_main", "test_embedding_forward_main"}),
    # Attention weights normalised over the batch axis instead of the source positions.
    ("bug_attention_softmax_wrong_axis",
     "weights = np.exp(log_softmax(scores, axis=1))", "weights = np.exp(log_softmax(scores, axis=0))",
     {"test_additive_attention_forward_main", "test_additive_attention_forward_large_scores",
      "test_additive_attention_forward_hidden", "test_additive_attention_backward_main"},
     {"test_temporal_softmax_loss_main", "test_bidirectional_rnn_forward_main", "test_rnn_greedy_decode_main"}),
    # Fancy-index accumulation: a token that occurs several times gets only one of its rows.
    ("bug_embedding_backward_fancy_index",
     "np.add.at(dW, tokens, dout)", "dW[tokens] += dout",
     {"test_embedding_backward_main", "test_embedding_backward_hidden"},
     {"test_embedding_forward_main", "test_embedding_forward_edges", "test_temporal_affine_backward_main"}),
    # The last column of the padded batch instead of each sequence's last real step.
    ("bug_last_state_last_column",
     "h[np.arange(N), lengths - 1]", "h[:, -1]",
     {"test_last_state_by_length_main", "test_last_state_by_length_hidden"},
     {"test_bidirectional_rnn_forward_main", "test_temporal_softmax_loss_main"}),
    # The decoder fed start_token at every step instead of its own previous prediction.
    ("bug_greedy_decode_feeds_start_token",
     "token = (h @ W_out + b_out).argmax(axis=1)\n        tokens[:, t] = token",
     "tokens[:, t] = (h @ W_out + b_out).argmax(axis=1)",
     {"test_rnn_greedy_decode_main", "test_rnn_greedy_decode_hidden"},
     {"test_additive_attention_forward_main", "test_last_state_by_length_main"}),
    # The keys' path as values left out of dkeys.
    ("bug_attention_dkeys_without_values_path",
     "dkeys = weights[..., None] * dcontext[:, None, :] + da @ Wk.T", "dkeys = da @ Wk.T",
     {"test_additive_attention_backward_main", "test_additive_attention_backward_edges",
      "test_additive_attention_backward_hidden"},
     {"test_additive_attention_forward_main", "test_additive_attention_forward_edges"}),
    # The bias gradient of the temporal affine layer averaged instead of summed.
    ("bug_affine_db_averaged",
     "db = dout.sum(axis=(0, 1))", "db = dout.mean(axis=(0, 1))",
     {"test_temporal_affine_backward_main"},
     {"test_temporal_affine_forward_main", "test_embedding_backward_main"}),
]
