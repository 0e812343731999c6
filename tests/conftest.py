from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("semadv", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("semadv")

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_model():
    """(model, x_test, y_test, accuracy): TinyCNN trained on sklearn digits (≈5 s, deterministic)."""
    from semadv.demo import train_digits_classifier

    return train_digits_classifier(seed=0)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
