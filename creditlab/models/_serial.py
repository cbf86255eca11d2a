"""Saving and loading the book's small torch models without files.

A model that keeps its constructor arguments in ``self.config`` (a dict) gets
``to_bytes`` / ``from_bytes`` from :class:`BytesMixin`.
"""

from __future__ import annotations

import io
from typing import Any

import torch


class BytesMixin:
    """``to_bytes`` / ``from_bytes`` for an ``nn.Module`` with a ``config`` dict."""

    config: dict[str, Any]

    def to_bytes(self) -> bytes:
        """Config and weights as bytes (``torch.save`` into memory; no file)."""
        buf = io.BytesIO()
        torch.save({"config": dict(self.config),
                    "state": {k: v.detach().clone() for k, v in self.state_dict().items()}},
                   buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        """Inverse of :meth:`to_bytes` (``weights_only`` loading: no code runs)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        blob = torch.load(io.BytesIO(bytes(data)), weights_only=True)
        model = cls(**blob["config"])
        model.load_state_dict(blob["state"])
        return model
