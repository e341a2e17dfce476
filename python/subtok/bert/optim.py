"""Optimizer, gradient clipping and learning-rate schedule, matching PyTorch + transformers.

* :class:`AdamW`: ``torch.optim.AdamW`` (decoupled weight decay, the single-tensor update order),
  with BERT's rule of no decay on biases and LayerNorm weights by default.
* :func:`clip_grad_norm`: ``torch.nn.utils.clip_grad_norm_`` (global L2 norm, scale
  ``min(1, max_norm / (norm + 1e-6))``).
* :class:`LinearWarmupSchedule`: transformers' ``get_linear_schedule_with_warmup`` (``LambdaLR``
  semantics: the first step uses the learning rate of step 0).

>>> opt = AdamW(model, lr=5e-5)                                    # doctest: +SKIP
>>> sched = LinearWarmupSchedule(opt, num_warmup_steps=10, num_training_steps=100)   # doctest: +SKIP
>>> loss, grads = model.loss_and_grads(**batch, labels=y)          # doctest: +SKIP
>>> clip_grad_norm(grads, 1.0); opt.step(grads); sched.step()      # doctest: +SKIP
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from subtok.bert.trainable import no_decay as bert_no_decay

Params = Dict[str, np.ndarray]


def _params_of(params: Any) -> Tuple[Params, Optional[Any]]:
    if isinstance(params, Mapping):
        return dict(params), None
    if hasattr(params, "state_dict") and hasattr(params, "parameters_updated"):
        return params.state_dict(), params
    raise TypeError("params must be a model (with state_dict()) or a dict of name -> numpy array")


class AdamW:
    """``torch.optim.AdamW`` over a dict of float arrays updated in place.

    ``params`` is a model (its live :meth:`state_dict`; the model's inference layout is refreshed
    after every step) or a dict ``name -> array``. Parameters for which ``no_decay(name)`` is true
    (default: biases and LayerNorm weights) get no weight decay. ``lr`` may be changed between
    steps (a schedule does).
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        no_decay: Optional[Callable[[str], bool]] = bert_no_decay,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"invalid learning rate {lr!r}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas {betas!r}")
        if not eps >= 0.0 or not weight_decay >= 0.0:
            raise ValueError("eps and weight_decay must be non-negative")
        self.params, self._model = _params_of(params)
        for k, v in self.params.items():
            if not isinstance(v, np.ndarray) or not np.issubdtype(v.dtype, np.floating):
                raise TypeError(f"parameter {k!r} is not a float numpy array")
            if not v.flags.writeable:
                raise ValueError(f"parameter {k!r} is read-only")
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.no_decay = no_decay or (lambda name: False)
        self.step_count = 0
        self._steps: Dict[str, int] = {}
        self.exp_avg: Params = {}
        self.exp_avg_sq: Params = {}

    def decay_of(self, name: str) -> float:
        """The weight decay applied to parameter ``name``."""
        return 0.0 if self.no_decay(name) else self.weight_decay

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """One update from ``grads`` (same keys as the parameters; missing keys are skipped, as
        torch skips parameters without a gradient)."""
        unknown = [k for k in grads if k not in self.params]
        if unknown:
            raise KeyError(f"gradients for unknown parameters: {unknown[:5]}")
        self.step_count += 1
        lr = self.lr
        b1, b2 = self.betas
        for name, p in self.params.items():
            g = grads.get(name)
            if g is None:
                continue
            if g.shape != p.shape:
                raise ValueError(f"gradient of {name!r} has shape {g.shape}, parameter {p.shape}")
            t = p.dtype.type
            m = self.exp_avg.get(name)
            if m is None:
                m = self.exp_avg[name] = np.zeros_like(p)
                self.exp_avg_sq[name] = np.zeros_like(p)
            v = self.exp_avg_sq[name]
            steps = self._steps[name] = self._steps.get(name, 0) + 1
            wd = self.decay_of(name)
            if wd != 0.0:
                p *= t(1.0 - lr * wd)
            # exp_avg.lerp_(grad, 1 - beta1): m + w * (g - m)
            d = g - m
            d *= t(1.0 - b1)
            m += d
            # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            v *= t(b2)
            d = np.multiply(g, t(1.0 - b2), out=d)
            d *= g
            v += d
            bc1 = 1.0 - b1**steps
            bc2 = 1.0 - b2**steps
            step_size = lr / bc1
            denom = np.sqrt(v, out=d)
            denom /= t(math.sqrt(bc2))
            denom += t(self.eps)
            upd = np.divide(m, denom, out=denom)
            upd *= t(-step_size)
            p += upd
        if self._model is not None:
            self._model.parameters_updated()


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """L2 norm of all gradients together."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return float(math.sqrt(total))


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm`` (as
    ``torch.nn.utils.clip_grad_norm_``: factor ``min(1, max_norm / (norm + 1e-6))``).
    Returns the norm before clipping."""
    total = global_norm(grads)
    coef = min(1.0, float(max_norm) / (total + 1e-6))
    if coef < 1.0:
        for g in grads.values():
            g *= g.dtype.type(coef)
    return total


class LinearWarmupSchedule:
    """Linear warmup from 0 to the optimizer's learning rate over ``num_warmup_steps``, then linear
    decay to 0 at ``num_training_steps`` (transformers' ``get_linear_schedule_with_warmup``).
    Call :meth:`step` after each optimizer step."""

    def __init__(self, optimizer: AdamW, num_warmup_steps: int, num_training_steps: int) -> None:
        if num_warmup_steps < 0 or num_training_steps < 0:
            raise ValueError("step counts must be non-negative")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.num_warmup_steps = int(num_warmup_steps)
        self.num_training_steps = int(num_training_steps)
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def factor(self, step: int) -> float:
        """The multiplier of the base learning rate at ``step``."""
        w, n = self.num_warmup_steps, self.num_training_steps
        if step < w:
            return float(step) / float(max(1, w))
        return max(0.0, float(n - step) / float(max(1, n - w)))

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.factor(step)

    def step(self) -> float:
        """Advance one step; returns the new learning rate."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)
        return self.optimizer.lr


def accumulate(total: Optional[Params], grads: Params, scale: float = 1.0) -> Params:
    """``total += scale * grads`` (``total`` ``None`` starts a new dict)."""
    if total is None:
        out = {}
        for k, g in grads.items():
            out[k] = g * g.dtype.type(scale) if scale != 1.0 else g
        return out
    for k, g in grads.items():
        if scale != 1.0:
            total[k] += g * g.dtype.type(scale)
        else:
            total[k] += g
    return total


__all__ = ["AdamW", "LinearWarmupSchedule", "accumulate", "clip_grad_norm", "global_norm"]
