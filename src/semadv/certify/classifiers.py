"""Base classifiers for smoothing: adapters turning a victim into a class-valued function.

Each is called as ``base(images, index)`` → (N,) int64 classes, where ``index`` (N,) tells which input
each image belongs to (used by per-input references; ignored otherwise)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from semadv.errors import InputError
from semadv.victims import match_dtype


class LogitsClassifier:
    """argmax of a classifier's logits."""

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], num_classes: int | None = None) -> None:
        self.model = model
        self.num_classes = num_classes

    def __call__(self, images: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        out = self.model(match_dtype(self.model, images)[0])
        if out.dim() != 2:
            raise InputError(f"classifier outputs must be (B, K) logits; got {tuple(out.shape)}")
        return out.argmax(dim=1)


class GalleryClassifier:
    """Identification: nearest gallery identity by cosine similarity of embeddings (class = gallery row
    label). The gallery embeddings are computed once and normalised."""

    def __init__(
        self,
        embedder: Callable[[torch.Tensor], torch.Tensor],
        gallery: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> None:
        if gallery.dim() != 2:
            raise InputError(f"gallery must be (G, d) embeddings; got {tuple(gallery.shape)}")
        self.embedder = embedder
        self.gallery = F.normalize(gallery.detach(), dim=1)
        self.labels = torch.arange(len(gallery)) if labels is None else labels.long()
        self.num_classes = int(self.labels.max()) + 1

    def __call__(self, images: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        e = F.normalize(self.embedder(match_dtype(self.embedder, images)[0]), dim=1)
        return self.labels.to(e.device)[(e @ self.gallery.to(e).T).argmax(dim=1)]


class VerificationClassifier:
    """Thresholded verification against per-sample references: class 1 = same identity
    (distance ≤ threshold), 0 = different. Distance: L2 between normalised embeddings."""

    num_classes = 2

    def __init__(
        self, embedder: Callable[[torch.Tensor], torch.Tensor], references: torch.Tensor, threshold: float
    ) -> None:
        self.embedder = embedder
        self.references = F.normalize(references.detach(), dim=1)
        self.threshold = float(threshold)

    def __call__(self, images: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        e = F.normalize(self.embedder(match_dtype(self.embedder, images)[0]), dim=1)
        ref = self.references if index is None else self.references[index.to(self.references.device)]
        if ref.shape[0] != e.shape[0]:
            raise InputError(f"batch size mismatch: {e.shape[0]} images vs {ref.shape[0]} references")
        return ((e - ref.to(e)).norm(dim=1) <= self.threshold).long()
