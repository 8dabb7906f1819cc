"""Assay and FiftyOne side by side on the same 100,000 items, in one run (issue 16).

    .venv/bin/python bench/curation_vs_fiftyone.py [--items 100000] [--boxes 9]
                      [--fiftyone-python /work/envs/fiftyone/bin/python]

One after the other, on the same generated data (bench/curation_data.py: 100,000 items,
~9 boxes each — the issue's anchor is 100,000 samples / 933,000 labels):

1. Assay: bench/curation_ingest.py (the API append, `assay serve --processes 2`, SQLite);
   then, against `assay serve` on that database, the reads below over HTTP, --repeats
   each; then bench/curation_similarity.py --n ITEMS (the vector index in process).
2. FiftyOne: bench/fiftyone_anchor.py in FiftyOne's virtualenv (its own `mongod`):
   `add_samples`, the same reads through its Python API against `mongod` on loopback
   (--fiftyone-repeats each), `sort_by_similarity` k=50 on the same embeddings.

Timing: wall clock around the operation in the client, p50. Assay's reads include HTTP
and the JSON of the answer; FiftyOne's include pymongo and building the Sample objects. Each
pair answers the same question; where the work differs, READS says how. Last line:
`curation_vs_fiftyone: …` with both sides' p50 and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The worktree's code, not the one the virtualenv was installed from; servers inherit it.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
)
sys.path.insert(0, str(ROOT / "src"))

from _server import Server, machine  # noqa: E402
from curation_explore import QUERIES, open_dataset, timed  # noqa: E402

# name -> (Assay's query body, how FiftyOne's side differs; bench/fiftyone_anchor.py `reads`)
READS = {
    "metadata match, indexed (count)": (
        {"query": 'metadata.weather = "rain"', "limit": 1},
        "the issue's 'indexed metadata match': count of weather = rain (~20 %); Assay also "
        "returns one item",
    ),
    "first page, 1 %": (QUERIES["first page, 1 %"], "count + 50 items with their boxes"),
    "count + facets, 10 %": (
        QUERIES["count + facets, 10 %"],
        "count, labels, tags, 3 string fields, 8 histograms (FiftyOne: one aggregate())",
    ),
    "annotation counts": (QUERIES["annotation counts"], "count + 50 items"),
    "objects by area": (
        QUERIES["objects by area"],
        "count + 50 boxes by area (FiftyOne: filter_labels + to_patches + sort_by)",
    ),
    "label-filter count": (
        {"query": 'object.label = "car"', "view": "objects", "limit": 1},
        "the issue's label-filter count: boxes labelled car",
    ),
    "label facet": (
        {"query": "", "facets": True, "limit": 1},
        "the issue's label facet: FiftyOne counts labels only, Assay computes every facet",
    ),
}


def run(command: list[str], **kwargs) -> str:
    """Runs a bench, echoing its output as it comes; returns the output."""
    print(f"$ {' '.join(command)}", flush=True)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    lines = []
    for line in proc.stdout:
        print("  | " + line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        raise SystemExit(f"{command[1]} failed with {proc.returncode}")
    return "".join(lines)


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"not found in the bench's output: {pattern}")
    return float(match.group(1).replace(",", ""))


def assay_side(args) -> dict:
    bench = str(ROOT / "bench")
    out = run(
        [
            sys.executable,
            f"{bench}/curation_ingest.py",
            "--items",
            str(args.items),
            "--boxes",
            str(args.boxes),
        ]
    )
    result = {
        "ingest_per_s": number(r"\): ([\d,]+) items/s", out),
        "labels": int(number(r"items, ([\d,]+) boxes", out)),
        "reads": {},
        "matched": {},
    }
    database_url = re.search(r"curation_explore.py: (\S+)", out).group(1)
    server = Server(database_url)
    try:
        api = server.api()
        _, url, cold = open_dataset(api)
        print(f"  assay: first query (snapshot built) {cold:.1f} s")
        for name, (body, _) in READS.items():
            times = timed(api, url, body, args.repeats)
            result["reads"][name] = times
            answer = api.post(url, json=body).json()
            # The label facet's FiftyOne answer is the labels' counts: set their sum beside it.
            count = answer["facets"]["objects"] if name == "label facet" else answer["count"]
            result["matched"][name] = count
            print(f"  assay: {name}: p50 {statistics.median(times):.1f} ms ({count:,} matched)")
    finally:
        server.stop()
        folder = Path(database_url.removeprefix("sqlite:///")).parent
        if folder.name.startswith("assay-bench-") and folder.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(folder, ignore_errors=True)
    out = run(
        [
            sys.executable,
            f"{bench}/curation_similarity.py",
            "--n",
            str(args.items),
            "--queries",
            str(args.queries),
        ]
    )
    result["find-similar k=50"] = number(r"k=50 unrestricted: p50 ([\d.]+) ms", out)
    result["recall@10"] = number(r"k=50 unrestricted: .*recall@10 ([\d.]+)", out)
    return result


def fiftyone_side(args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "fiftyone.json"
        run(
            [
                args.fiftyone_python,
                str(ROOT / "bench" / "fiftyone_anchor.py"),
                "--items",
                str(args.items),
                "--boxes",
                str(args.boxes),
                "--repeats",
                str(args.fiftyone_repeats),
                "--queries",
                str(args.queries),
                "--json",
                str(figures),
            ]
        )
        result = json.loads(figures.read_text())
    similar = result.pop("find-similar k=50")
    result["find-similar k=50"] = statistics.median(similar["times"])
    result["recall@10"] = similar["recall@10"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=9, help="average boxes per item")
    parser.add_argument("--repeats", type=int, default=30, help="Assay's reads")
    parser.add_argument("--fiftyone-repeats", type=int, default=10, help="FiftyOne's reads")
    parser.add_argument("--queries", type=int, default=30, help="find-similar queries")
    parser.add_argument("--fiftyone-python", default="/work/envs/fiftyone/bin/python")
    args = parser.parse_args()

    started = time.time()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at the start")
    assay = assay_side(args)
    fiftyone = fiftyone_side(args)
    rows = [("ingest, items/s", assay["ingest_per_s"], fiftyone["ingest_per_s"], "")]
    for name in READS:
        ours, theirs = assay["matched"][name], fiftyone["matched"][name]
        rows.append(
            (
                f"{name}, p50 ms",
                statistics.median(assay["reads"][name]),
                statistics.median(fiftyone["reads"][name]),
                f"{ours:,}" if ours == theirs else f"{ours:,} / {theirs:,}",
            )
        )
    rows.append(
        ("find-similar k=50, p50 ms", assay["find-similar k=50"], fiftyone["find-similar k=50"], "")
    )
    print(
        f"\n{args.items:,} items; Assay {assay['labels']:,} boxes, "
        f"FiftyOne {fiftyone['labels']:,} labels; FiftyOne {fiftyone['version']}"
    )
    print(f"{'':40} {'Assay':>10} {'FiftyOne':>10} {'ratio':>8}  matched (both)")
    summary = []
    for name, ours, theirs, count in rows:
        ratio = ours / theirs if name.startswith("ingest") else theirs / ours
        print(f"{name:40} {ours:10,.1f} {theirs:10,.1f} {ratio:7,.1f}x  {count}")
        summary.append(f"{name} {ours:,.1f} vs {theirs:,.1f}")
    print(
        f"  recall@10: Assay {assay['recall@10']:.3f}, FiftyOne {fiftyone['recall@10']:.3f} "
        f"(exact); load average {os.getloadavg()[0]:.2f} at the end, "
        f"{(time.time() - started) / 60:.0f} min"
    )
    print(
        f"curation_vs_fiftyone: {args.items:,} items (Assay vs FiftyOne {fiftyone['version']}): "
        + "; ".join(summary)
    )


if __name__ == "__main__":
    main()
