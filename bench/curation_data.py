"""The generated driving-dataset items the curation benches load (standard library only, so
FiftyOne's separate virtualenv loads the same data: bench/fiftyone_anchor.py).

An item: a URL, width and height, a dozen metadata fields (numbers, strings, a list, a nested
object), a tag on ~10 %, and 0 to 2 x `boxes` boxes (`boxes` on average) of ten labels, in
pixels. The same `random.Random` seed gives the same items in either environment.
"""

from __future__ import annotations

import random

SEED = 16  # curation_ingest.py's request bodies and fiftyone_anchor.py's samples: one sequence
LABELS = ["car", "truck", "person", "bicycle", "bus", "sign", "light", "dog", "cone", "van"]
WEATHER = ["sun", "rain", "snow", "fog", "cloud"]


def make_items(start: int, count: int, boxes: int, rng: random.Random) -> list[dict]:
    items = []
    for n in range(start, start + count):
        shapes = []
        for k in range(rng.randint(0, 2 * boxes)):
            w, h = round(rng.uniform(4, 300), 1), round(rng.uniform(4, 200), 1)
            shapes.append(
                {
                    "type": "box",
                    "id": f"{n}-{k}",
                    "label": rng.choice(LABELS),
                    "x": round(rng.uniform(0, 1920 - w), 1),
                    "y": round(rng.uniform(0, 1080 - h), 1),
                    "width": w,
                    "height": h,
                    "attributes": {"occluded": rng.random() < 0.2},
                }
            )
        items.append(
            {
                "reference_id": f"drive-{n // 1000:05d}/frame-{n % 1000:04d}.jpg",
                "media": f"https://media.example.test/drive-{n // 1000:05d}/{n % 1000:04d}.jpg",
                "width": 1920,
                "height": 1080,
                "metadata": {
                    "weather": rng.choice(WEATHER),
                    "speed": round(rng.uniform(0, 130), 1),
                    "hour": rng.randrange(24),
                    "city": f"city-{rng.randrange(40)}",
                    "night": rng.random() < 0.3,
                    "lanes": rng.randrange(1, 6),
                    "score": round(rng.random(), 4),
                    "sensors": rng.sample(["front", "rear", "left", "right", "top"], 2),
                    "camera": {"id": rng.randrange(8), "exposure": round(rng.uniform(1, 30), 2)},
                    "drive": n // 1000,
                    "frame": n % 1000,
                    "split": rng.choice(["train", "val", "test"]),
                },
                "tags": ["reviewed"] if rng.random() < 0.1 else [],
                "annotations": shapes,
            }
        )
    return items


def generate(items: int, boxes: int, chunk: int):
    """The bench's items, `chunk` at a time, from one seeded generator: (start, items)."""
    rng = random.Random(SEED)
    for start in range(0, items, chunk):
        yield start, make_items(start, min(chunk, items - start), boxes, rng)
