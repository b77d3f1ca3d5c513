"""Shared pytest set-up of the course's tests.

Tests marked ``@pytest.mark.cuda`` need a CUDA GPU seen by PyTorch; without one
(or without PyTorch) they are skipped with the reason, instead of failing.
"""
import pytest


def cuda_available():
    """True when PyTorch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    cuda_items = [item for item in items if item.get_closest_marker("cuda")]
    if cuda_items and not cuda_available():  # torch is imported only when a test needs it
        skip = pytest.mark.skip(reason="needs a CUDA GPU: torch.cuda.is_available() is False")
        for item in cuda_items:
            item.add_marker(skip)
