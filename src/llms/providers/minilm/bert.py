"""all-MiniLM-L6-v2's forward pass in NumPy: a 6-layer BERT encoder (384 wide, 12 heads), mean
pooling over the tokens and L2 normalisation — what sentence-transformers computes, without
PyTorch. Weights are read from the packaged `model.safetensors` (memory-mapped)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

HEADS = 12
EPS = 1e-12
DTYPES = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, Any]:
    """Every tensor of a safetensors file as a NumPy array (views of one memory map)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        out[name] = data[begin:end].view(DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return out


def _layer_norm(x: Any, w: Any, b: Any) -> Any:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w + b


_ERF = np.vectorize(math.erf, otypes=[np.float32])


def _gelu(x: Any) -> Any:
    return 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)))


class MiniLM:
    def __init__(self, weights: dict[str, Any]) -> None:
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if v.dtype == np.float32}
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))

    def embed(self, ids: list[int]) -> list[float]:
        """One text's token ids → its normalised sentence vector."""
        w = self.w
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for i in range(self.layers):
            x = self._layer(x, f"encoder.layer.{i}.")
        v = x.mean(0)
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32).tolist()

    def _dense(self, x: Any, name: str) -> Any:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _layer(self, x: Any, p: str) -> Any:
        n, width = x.shape
        d = width // HEADS

        def heads(t: Any) -> Any:
            return t.reshape(n, HEADS, d).transpose(1, 0, 2)

        q = heads(self._dense(x, p + "attention.self.query"))
        k = heads(self._dense(x, p + "attention.self.key"))
        v = heads(self._dense(x, p + "attention.self.value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = self._dense(ctx.transpose(1, 0, 2).reshape(n, width), p + "attention.output.dense")
        x = _layer_norm(
            x + attn, self.w[p + "attention.output.LayerNorm.weight"], self.w[p + "attention.output.LayerNorm.bias"]
        )
        h = _gelu(self._dense(x, p + "intermediate.dense"))
        out = self._dense(h, p + "output.dense")
        return _layer_norm(x + out, self.w[p + "output.LayerNorm.weight"], self.w[p + "output.LayerNorm.bias"])
