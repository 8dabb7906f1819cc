"""Dawid-Skene on a million labels: assay.metrics against crowd-kit 1.4, on the same data.

    python bench/aggregation.py [--tasks 200000] [--per-task 5] [--labelers 2000]
                                [--classes 5] [--runs 3] [--seed 0]

The crowd is simulated with known truth (tests/metrics/crowd.py): spammers, decent and
expert labelers with class-specific confusions, imbalanced classes, uneven workloads. Ids
are 24-hex strings as the server stores them, labels are class names. crowd-kit runs only
if importable; keep it out of the project's environment, in a venv of its own:

    python3.11 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install 'crowd-kit>=1.4,<1.5' numpy scipy pandas
    /work/bench-venv/bin/python bench/aggregation.py

(assay.metrics needs only numpy and scipy, so this script imports it from src/.) Times are
medians of --runs runs of the aggregation alone, inputs built beforehand. The last line is
`aggregation: ours <acc> in <t> s (string ids); crowd-kit <acc> in <t_int> s (int ids) /
<t_str> s (string ids)`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import numpy as np  # noqa: E402
from tests.metrics.crowd import hex_ids, simulate  # noqa: E402

from assay.metrics.aggregation import dawid_skene, majority_vote  # noqa: E402

CLASS_NAMES = np.array(["animal", "building", "person", "plant", "vehicle", "water", "sky"])


def timed(runs: int, work):
    """Median seconds of `runs` calls, and the last result."""
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def crowd_kit_runs(args, crowd, task_ids, labeler_ids, names):
    """crowd-kit's DawidSkene on integer ids and on string ids, or None if not installed."""
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError as error:
        print(f"crowd-kit: not importable ({error}); install it in a separate venv")
        return None
    from importlib.metadata import version

    print(f"crowd-kit {version('crowd-kit')}, pandas {pd.__version__}")
    frames = {
        "int ids": pd.DataFrame(
            {"task": crowd.tasks, "worker": crowd.labelers, "label": crowd.labels}
        ),
        "string ids": pd.DataFrame(
            {
                "task": task_ids[crowd.tasks].astype(object),
                "worker": labeler_ids[crowd.labelers].astype(object),
                "label": names[crowd.labels].astype(object),
            }
        ),
    }
    out = {}
    for kind, frame in frames.items():
        seconds, predicted = timed(
            args.runs, lambda f=frame: DawidSkene(n_iter=100, tol=1e-5).fit_predict(f)
        )
        if kind == "int ids":
            labels = predicted.reindex(np.arange(args.tasks)).to_numpy()
            accuracy = float(np.mean(labels == crowd.truth))
        else:
            labels = predicted.reindex(task_ids).to_numpy()
            accuracy = float(np.mean(labels == names[crowd.truth]))
        out[kind] = (accuracy, seconds, labels)
        print(f"crowd-kit ({kind}): accuracy {accuracy:.2%}, {seconds:.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--labelers", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, python {platform.python_version()}, numpy {np.__version__}"
    )

    crowd = simulate(
        tasks=args.tasks,
        per_task=args.per_task,
        labelers=args.labelers,
        classes=args.classes,
        seed=args.seed,
    )
    task_ids, labeler_ids = hex_ids(args.tasks, seed=1), hex_ids(args.labelers, seed=2)
    names = CLASS_NAMES[: args.classes]
    tasks, labelers, labels = (
        task_ids[crowd.tasks],
        labeler_ids[crowd.labelers],
        names[crowd.labels],
    )
    kinds = np.bincount(crowd.kinds, minlength=3)
    print(
        f"data: {len(labels):,} labels, {args.tasks:,} tasks x {args.per_task}, "
        f"{args.labelers:,} labelers ({kinds[0]} spammers, {kinds[1]} decent, {kinds[2]} experts), "
        f"{args.classes} classes; ids like {str(tasks[0])!r}"
    )
    truth_names = names[crowd.truth]

    mv = majority_vote(tasks, labels)
    mv_accuracy = float(np.mean(mv.labels == truth_names))
    print(f"majority vote: accuracy {mv_accuracy:.2%}")

    ours_str_s, ours = timed(args.runs, lambda: dawid_skene(tasks, labelers, labels))
    assert np.array_equal(ours.tasks, task_ids), "hex_ids are sorted, so tasks come back in order"
    ours_accuracy = float(np.mean(ours.labels == truth_names))
    print(
        f"ours (string ids): accuracy {ours_accuracy:.2%}, {ours_str_s:.3f} s, "
        f"{ours.iterations} iterations, converged {ours.converged}"
    )
    ours_int_s, _ = timed(args.runs, lambda: dawid_skene(crowd.tasks, crowd.labelers, crowd.labels))
    print(f"ours (int ids): {ours_int_s:.3f} s")
    as_lists = (tasks.tolist(), labelers.tolist(), labels.tolist())
    ours_list_s, _ = timed(args.runs, lambda: dawid_skene(*as_lists))
    print(f"ours (string ids as Python lists, conversion included): {ours_list_s:.3f} s")

    kit = crowd_kit_runs(args, crowd, task_ids, labeler_ids, names)
    line = f"aggregation: ours {ours_accuracy:.2%} in {ours_str_s:.3f} s (string ids); "
    if kit is None:
        print(line + "crowd-kit not installed")
        return
    kit_accuracy, kit_int_s, kit_labels = kit["int ids"]
    agree = float(np.mean(names[kit_labels.astype(int)] == ours.labels))
    gap = abs(ours_accuracy - kit_accuracy) * 100
    print(f"ours and crowd-kit give the same label on {agree:.2%} of tasks")
    print(
        f"targets: accuracy gap {gap:.3f} points (<= 0.2: {'yes' if gap <= 0.2 else 'NO'}); "
        f"ours {ours_str_s:.3f} s (<= 1 s: {'yes' if ours_str_s <= 1 else 'NO'})"
    )
    kit_str_s = kit["string ids"][1]
    print(
        line + f"crowd-kit {kit_accuracy:.2%} in {kit_int_s:.2f} s (int ids) / "
        f"{kit_str_s:.2f} s (string ids)"
    )


if __name__ == "__main__":
    main()
