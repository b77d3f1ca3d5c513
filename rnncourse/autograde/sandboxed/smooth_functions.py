"""The smooth test functions of the numeric-gradient checks (assignment 2).

A leaf module (numpy only, no ``rnncourse`` import): the checks create these functions
and the sandboxed runner rebuilds them inside the sandbox from their description, so
that a student's ``numerical_gradient`` can call them there.
"""
import numpy as np


class SmoothFunction:
    """A smooth test function with a known gradient, for the numeric-gradient checks.

    kind: "cube_sum" sum(x**3), "x_sin_x_sum" sum(sin(x) x), "tanh_matmul_sum" sum(tanh(x A)),
    "tanh_matmul" tanh(x A), "square" x**2, "sin" sin(x). A: (D, M) matrix for the matmul kinds.
    It is a class, not a lambda, so that the sandboxed runner can rebuild it from data
    (:mod:`rnncourse.autograde.sandboxed.protocol`).
    """

    FORMULAS = {
        "cube_sum": "f(x) = sum(x**3)", "x_sin_x_sum": "f(x) = sum(sin(x) * x)",
        "tanh_matmul_sum": "f(x) = sum(tanh(x @ A))", "tanh_matmul": "f(x) = tanh(x @ A)",
        "square": "f(x) = x**2", "sin": "f(x) = sin(x)",
    }

    def __init__(self, kind, A=None):
        self.kind, self.A = kind, A

    def __call__(self, x):
        if self.kind == "cube_sum":
            return np.sum(x**3)
        if self.kind == "x_sin_x_sum":
            return np.sum(np.sin(x) * x)
        if self.kind == "tanh_matmul_sum":
            return np.sum(np.tanh(x @ self.A))
        if self.kind == "tanh_matmul":
            return np.tanh(x @ self.A)
        if self.kind == "square":
            return x**2
        return np.sin(x)

    def gradient(self, x, dout=1.0):
        """Gradient of sum(f(x) * dout) with respect to x (dout = 1 for the scalar kinds)."""
        if self.kind == "cube_sum":
            return 3 * x**2
        if self.kind == "x_sin_x_sum":
            return np.cos(x) * x + np.sin(x)
        if self.kind in ("tanh_matmul_sum", "tanh_matmul"):
            return (dout * (1 - np.tanh(x @ self.A) ** 2)) @ self.A.T
        if self.kind == "square":
            return 2 * x * dout
        return np.cos(x) * dout
