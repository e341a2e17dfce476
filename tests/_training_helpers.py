"""Shared by the BERT training tests and tests/make_training_fixtures.py (no torch here)."""
from __future__ import annotations

import numpy as np


def sgd_step(model, grads, lr: float = 1.0) -> None:
    """A plain gradient step. Unlike Adam's, it moves the loss-invariant parameters (whose
    gradients are rounding noise) only by that noise, so the result does not depend on it."""
    for k, p in model.state_dict().items():
        p -= np.float32(lr) * grads[k]
    model.parameters_updated()
