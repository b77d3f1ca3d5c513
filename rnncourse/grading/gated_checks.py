"""Checks of assignment 4 (Chapter 4, LSTM and GRU): filled in with the chapter."""
CASES = {}
