from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("semadv", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("semadv")

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_model():
    """(model, x_test, y_test, accuracy): the shipped zoo TinyCNN and the 449 real test digits."""
    from semadv import zoo
    from semadv.worlds import generate

    model = zoo.load("digits-tinycnn")
    te = generate("digits", "test", n=449)
    with torch.no_grad():
        acc = float((model(te["image"]).argmax(1) == te["label"]).float().mean())
    return model, te["image"], te["label"], acc


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
