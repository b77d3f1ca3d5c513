"""Checks of assignment 3 (Chapter 3, vanishing and exploding gradients): filled in with the chapter."""
CASES = {}
