"""ArcFace (additive angular margin) classification head used to train embedding models.

For an embedding ``e`` and class centres ``W`` (one row per class)::

    cos θ_j = normalize(e) · normalize(W_j)

    logit_j = s · cos(θ_j + m)   for the target class j = y
    logit_j = s · cos θ_j        for every other class

with margin ``m`` (radians) and scale ``s`` (Deng et al., "ArcFace", CVPR 2019). The loss is the
cross entropy of these logits. ``cos(θ + m)`` is computed without ``arccos`` (whose gradient is
infinite at ±1) as ``cos θ · cos m − sin θ · sin m`` with ``sin θ = sqrt(clamp(1 − cos² θ, 0, 1))``.
Because ``cos(θ + m)`` stops decreasing once ``θ + m > π``, targets with ``cos θ <= cos(π − m)``
use the fallback ``cos θ − m · sin(π − m)`` instead, exactly as the reference implementation
(insightface / arcface-pytorch, ``easy_margin=False``) does.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


def _float32_region(device_type: str) -> contextlib.AbstractContextManager[object]:
    """Switch autocast off where the device has it (not e.g. on the shape-only meta device)."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()


class ArcFaceHead(nn.Module):
    """Class centres plus the ArcFace margin; a module of its own so it can get its own LR.

    It is used only in training: the deployed model is the embedding model alone.
    """

    def __init__(self, embedding_size: int, n_classes: int, margin: float, scale: float) -> None:
        super().__init__()
        if embedding_size < 1 or n_classes < 1:
            raise ValueError(
                f"embedding_size and n_classes must be positive, got {embedding_size}, {n_classes}"
            )
        if not 0.0 <= margin < math.pi:
            raise ValueError(f"margin must be in [0, π) radians, got {margin}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.embedding_size = embedding_size
        self.n_classes = n_classes
        self.margin = float(margin)
        self.scale = float(scale)
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_size))
        nn.init.xavier_uniform_(self.weight)
        self._cos_m = math.cos(margin)
        self._sin_m = math.sin(margin)
        # Threshold and fallback for θ + m > π (θ > π − m  <=>  cos θ < cos(π − m)).
        self._threshold = math.cos(math.pi - margin)
        self._fallback = math.sin(math.pi - margin) * margin
        # Kept as a detached tensor so training does not pay a device sync every step.
        self._last_accuracy: torch.Tensor | None = None

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``cos θ`` between each embedding and each class centre, shape (B, n_classes), float32."""
        with _float32_region(embeddings.device.type):
            return F.linear(
                F.normalize(embeddings.float(), dim=1), F.normalize(self.weight.float(), dim=1)
            )

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Scaled logits with the angular margin on each row's target class, float32 (B, n_classes).

        Also records :attr:`last_accuracy` (arg-max of ``cos θ`` against ``labels``).
        """
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_size:
            raise ValueError(
                f"expected embeddings of shape (B, {self.embedding_size}), "
                f"got {tuple(embeddings.shape)}"
            )
        labels = labels.long()
        # Margins are tiny angles: float16 would lose them, so autocast is switched off here.
        with _float32_region(embeddings.device.type):
            cos = self.cosine(embeddings)
            sin = torch.sqrt(torch.clamp(1.0 - cos * cos, 0.0, 1.0))
            cos_margin = cos * self._cos_m - sin * self._sin_m
            cos_margin = torch.where(cos > self._threshold, cos_margin, cos - self._fallback)
            target = F.one_hot(labels, num_classes=self.n_classes).bool()
            logits = self.scale * torch.where(target, cos_margin, cos)
        # Accuracy of the nearest class centre, without the margin: the margin only shapes the loss.
        self._last_accuracy = (cos.detach().argmax(dim=1) == labels).float().mean()
        return logits

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross entropy of :meth:`forward`'s logits (mean over the batch)."""
        return F.cross_entropy(self(embeddings, labels), labels.long())

    @property
    def last_accuracy(self) -> float | None:
        """Accuracy of the last batch seen by :meth:`forward`, or ``None`` before the first."""
        return None if self._last_accuracy is None else float(self._last_accuracy)

    def extra_repr(self) -> str:
        return (
            f"embedding_size={self.embedding_size}, n_classes={self.n_classes}, "
            f"margin={self.margin}, scale={self.scale}"
        )
