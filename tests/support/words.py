"""A text embedder for tests, registered the way a plugin registers one
(ASSAY_PLUGINS=tests.support.words, or imported): `test-words` hashes each word to a fixed
random direction and sums them (a bag of words), so texts sharing words are near — a text
tower without model weights."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from assay.curation.embedders import register_embedder

# Four captions whose nearest by text is plain: "a dog in the park" → dog.
CAPTIONS = {
    "fruit": "a red apple on the kitchen table",
    "car": "a blue car parked in the street",
    "dog": "a small dog running in the park",
    "boat": "a white boat on the calm lake",
}


class Words:
    name = "test-words"
    dim = 32
    text_tower = True

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        raise AssertionError("test-words embeds text only")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row] += np.random.default_rng(zlib.crc32(word.encode())).normal(size=self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


register_embedder(Words.name, Words)
