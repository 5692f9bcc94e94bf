"""Test-wide settings: stay offline, draw plots without a screen, keep runs deterministic."""

import os

# Set before any test imports `datasets` / `huggingface_hub`: nothing may reach the network.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

# Small models run as fast on one thread, and two OpenMP threads spinning on a busy 2-core
# machine slow a training test tenfold (seen here: 7 s alone, 90 s beside other jobs).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    torch.manual_seed(0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` skip cleanly, with the reason, on a machine without a GPU."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False here")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
