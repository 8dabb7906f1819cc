"""Time `validate_response` on a response with 1,000 boxes (pure Python, no database).

    python bench/validate_response.py [--boxes 1000] [--repeat 200]

The last line is the summary: `validate_response: <ms> ms median for <n> boxes`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from assay.labeling.annotations import validate_response
from assay.labeling.taxonomy import parse_taxonomy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    taxonomy = parse_taxonomy(
        {
            "labels": [
                {
                    "name": name,
                    "geometries": ["box", "polygon"],
                    "attributes": [
                        {"name": "occluded", "type": "choice", "choices": ["no", "yes"]},
                    ],
                }
                for name in ("car", "person", "bike", "truck")
            ],
            "global_attributes": [{"name": "weather", "type": "choice", "choices": ["sun"]}],
        },
        "image",
    )
    params = {"image_width": 1920, "image_height": 1080}
    labels = ("car", "person", "bike", "truck")
    response = {
        "annotations": [
            {
                "id": f"a{i}",
                "type": "box",
                "label": labels[i % 4],
                "x": i % 1800,
                "y": i % 1000,
                "width": 50.5,
                "height": 40,
                "attributes": {"occluded": "yes"} if i % 2 else {},
            }
            for i in range(args.boxes)
        ],
        "global_attributes": {"weather": "sun"},
    }
    validate_response(taxonomy, "image", params, response)  # warm the taxonomy index
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        validate_response(taxonomy, "image", params, response)
        timings.append((time.perf_counter() - start) * 1000)
    without_ids = {**response, "annotations": [{**a} for a in response["annotations"]]}
    for ann in without_ids["annotations"]:
        del ann["id"]
    generated = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        validate_response(taxonomy, "image", params, without_ids)
        generated.append((time.perf_counter() - start) * 1000)
    print(f"ids generated: {statistics.median(generated):.2f} ms median")
    print(
        f"validate_response: {statistics.median(timings):.2f} ms median for {args.boxes} boxes "
        f"(p90 {statistics.quantiles(timings, n=10)[-1]:.2f} ms)"
    )


if __name__ == "__main__":
    main()
