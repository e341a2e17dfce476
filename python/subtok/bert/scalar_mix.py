"""ELMo's scalar mix of layers: ``gamma * sum_k softmax(w)_k * h_k``, trainable with the optimizer.

Used for the feature-based approach of the BERT paper: a frozen encoder's hidden states
(``output_hidden_states=True``) mixed with learned weights, under a trained task head.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


class ScalarMix:
    """``gamma * sum_k s_k * h_k`` with ``s = softmax(scalar_parameters)`` (Peters et al., 2018).

    Parameters live in :meth:`state_dict` (``scalar_parameters`` (L,), ``gamma`` (1,)), so
    :class:`subtok.bert.optim.AdamW` trains them; :meth:`backward` gives their gradients (and
    the gradients of the inputs) from the gradient of the mix. With ``do_layer_norm``, each layer is
    first normalized over its (masked) elements as in AllenNLP.
    """

    def __init__(self, num_layers: int, do_layer_norm: bool = False,
                 initial_scalar_parameters: Optional[Sequence[float]] = None, initial_gamma: float = 1.0) -> None:
        if num_layers < 1:
            raise ValueError("num_layers must be >= 1")
        init = [0.0] * num_layers if initial_scalar_parameters is None else list(initial_scalar_parameters)
        if len(init) != num_layers:
            raise ValueError(f"{len(init)} initial scalar parameters for {num_layers} layers")
        self.num_layers = num_layers
        self.do_layer_norm = bool(do_layer_norm)
        self.params: Dict[str, np.ndarray] = {
            "scalar_parameters": np.asarray(init, dtype=np.float32),
            "gamma": np.asarray([initial_gamma], dtype=np.float32),
        }
        self._cache: Optional[Tuple[List[np.ndarray], np.ndarray, Optional[np.ndarray], List[float]]] = None

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The live parameters (updated in place by an optimizer)."""
        return self.params

    def parameters_updated(self) -> None:
        """Nothing to re-derive (the optimizer's hook)."""

    @property
    def weights(self) -> np.ndarray:
        """The normalized layer weights ``softmax(scalar_parameters)``."""
        w = self.params["scalar_parameters"].astype(np.float64)
        e = np.exp(w - w.max())
        return (e / e.sum()).astype(np.float32)

    def _normed(self, t: np.ndarray, mask: Optional[np.ndarray]) -> Tuple[np.ndarray, Tuple[float, float, float]]:
        if mask is None:
            m = np.ones(t.shape[:-1], dtype=np.float32)
        else:
            m = mask.astype(np.float32)
        n = float(m.sum()) * t.shape[-1]
        mean = float((t * m[..., None]).sum()) / n
        var = float((((t - mean) * m[..., None]) ** 2).sum()) / n
        std = float(np.sqrt(var + 1e-12))
        return ((t - mean) / std).astype(np.float32), (mean, std, n)

    def __call__(self, tensors: Sequence[np.ndarray], mask: Optional[np.ndarray] = None) -> np.ndarray:
        """Mix ``tensors`` (L arrays of one shape); ``mask`` (B, T) is used by ``do_layer_norm``."""
        if len(tensors) != self.num_layers:
            raise ValueError(f"{len(tensors)} tensors given to a mix of {self.num_layers} layers")
        ts = [np.asarray(t, dtype=np.float32) for t in tensors]
        if any(t.shape != ts[0].shape for t in ts):
            raise ValueError("all tensors of a scalar mix must have the same shape")
        stds: List[float] = []
        if self.do_layer_norm:
            normed = [self._normed(t, mask) for t in ts]
            inputs = [x for x, _ in normed]
            stds = [st[1] for _, st in normed]
        else:
            inputs = ts
        s = self.weights
        out = np.zeros_like(inputs[0])
        for w, t in zip(s, inputs):
            out += w * t
        self._cache = (inputs, s, None if mask is None else np.asarray(mask), stds)
        return out * self.params["gamma"][0]

    def backward(self, d_out: np.ndarray) -> Tuple[Dict[str, np.ndarray], List[np.ndarray]]:
        """Gradients of the parameters and of each (pre-norm) input from the gradient of the output
        of the last call."""
        if self._cache is None:
            raise ValueError("backward() needs a forward call first")
        inputs, s, mask, stds = self._cache
        d_out = np.asarray(d_out, dtype=np.float32)
        g = self.params["gamma"][0]
        dots = np.array([float((d_out.astype(np.float64) * t).sum()) for t in inputs])
        mixed_dot = float((s.astype(np.float64) * dots).sum())
        d_gamma = np.array([mixed_dot], dtype=np.float32)
        d_s = g * dots  # d loss / d s_k
        d_w = (s * (d_s - float((s * d_s).sum()))).astype(np.float32)  # softmax backward
        d_inputs = [(g * w) * d_out for w in s]
        if self.do_layer_norm:
            m3 = (np.ones(d_out.shape[:-1], np.float32) if mask is None else mask.astype(np.float32))[..., None]
            n = float(m3.sum()) * d_out.shape[-1]
            outs = []
            for x_hat, dx_hat, std in zip(inputs, d_inputs, stds):
                xm = x_hat * m3
                # the statistics are over masked elements; every element is shifted and scaled
                dx = (dx_hat - float(dx_hat.sum()) / n * m3 - xm * float((dx_hat * x_hat).sum()) / n) / std
                outs.append(dx.astype(np.float32))
            d_inputs = outs
        return {"scalar_parameters": d_w, "gamma": d_gamma}, d_inputs
