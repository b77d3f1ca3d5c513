"""Realistic bugs of ps3_gradients, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
"""
BUGS = [
    ("bug_derivative_of_previous_state",
     "h_t = h[:, t]", "h_t = h[:, t - 1]",
     {"test_gradient_norms_main", "test_gradient_norms_activations", "test_gradient_norms_hidden"},
     {"test_global_norm", "test_clip_grad_norm_main", "test_orthogonal"}),
    ("bug_sum_of_norms",
     "return float(np.sqrt(sum(np.sum(g * g) for g in grads)))", "return float(sum(np.linalg.norm(g) for g in grads))",
     {"test_global_norm", "test_global_norm_hidden", "test_clip_grad_norm_main"},
     {"test_clip_grad_value", "test_orthogonal", "test_gradient_norms_main"}),
    ("bug_clip_each_array_separately",
     "return tuple(g * scale for g in grads)",
     "return tuple(g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads)",
     {"test_clip_grad_norm_main", "test_clip_grad_norm_tight", "test_clip_grad_norm_hidden"},
     {"test_global_norm", "test_clip_grad_value"}),
    ("bug_clip_value_one_sided",
     "np.clip(g, -clip_value, clip_value)", "np.minimum(g, clip_value)",
     {"test_clip_grad_value", "test_clip_grad_value_hidden"},
     {"test_clip_grad_norm_main", "test_orthogonal"}),
    ("bug_no_sign_fix",
     "Q = Q * np.sign(np.diag(R))", "Q = Q",
     {"test_orthogonal", "test_orthogonal_gain", "test_orthogonal_hidden"},
     {"test_identity", "test_clip_grad_norm_main"}),
]
