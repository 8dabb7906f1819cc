"""Simulated crowds with known truth: spammers, decent and expert labelers (tests and bench)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPAMMER, DECENT, EXPERT = 0, 1, 2


@dataclass(frozen=True)
class Crowd:
    tasks: np.ndarray  # (N,) task index of each label
    labelers: np.ndarray  # (N,) labeler index of each label
    labels: np.ndarray  # (N,) class given
    truth: np.ndarray  # (T,) true class of each task
    kinds: np.ndarray  # (W,) SPAMMER, DECENT or EXPERT
    confusion: np.ndarray  # (W, K, K) true P(label l | class k) at [w, k, l]


def simulate(
    *,
    tasks: int,
    per_task: int = 5,
    labelers: int = 100,
    classes: int = 5,
    mix: tuple[float, float, float] = (0.2, 0.6, 0.2),
    seed: int = 0,
) -> Crowd:
    """Labels from a mixture of labelers with class-specific confusions.

    Spammers answer independently of the truth (uniformly, or always favouring one class);
    decent (accuracy ~0.55-0.8) and expert (~0.88-0.97) labelers confuse each class mostly
    with the next one, the way similar classes get mixed up. Classes are imbalanced, and
    some labelers do far more tasks than others. Labels come in shuffled order.
    """
    rng = np.random.default_rng(seed)
    k = classes
    prior = 1.0 / np.arange(1, k + 1) ** 0.7
    prior /= prior.sum()
    truth = rng.choice(k, tasks, p=prior)
    kinds = rng.choice(3, labelers, p=mix)
    base = np.where(
        kinds == EXPERT, rng.uniform(0.88, 0.97, labelers), rng.uniform(0.55, 0.8, labelers)
    )
    accuracy = np.clip(base[:, None] + rng.normal(0, 0.08, (labelers, k)), 0.3, 0.99)
    confusion = np.zeros((labelers, k, k))
    rest = 1 - accuracy
    confusion += (0.4 * rest / k)[:, :, None]
    diagonal = np.arange(k)
    confusion[:, diagonal, diagonal] += accuracy
    confusion[:, diagonal, (diagonal + 1) % k] += 0.6 * rest
    confusion /= confusion.sum(axis=2, keepdims=True)
    spammers = np.flatnonzero(kinds == SPAMMER)
    favourites = rng.dirichlet(np.full(k, 0.5), len(spammers))
    uniform = rng.random(len(spammers)) < 0.5
    favourites[uniform] = 1.0 / k
    confusion[spammers] = favourites[:, None, :]
    activity = 1.0 / np.arange(1, labelers + 1) ** 0.6
    activity /= activity.sum()
    chosen = rng.choice(labelers, (tasks, per_task), p=activity)
    for _ in range(100):  # a labeler labels a task at most once
        ordered = np.sort(chosen, axis=1)
        repeats = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not repeats.any():
            break
        chosen[repeats] = rng.choice(labelers, (int(repeats.sum()), per_task), p=activity)
    task_of = np.repeat(np.arange(tasks), per_task)
    labeler_of = chosen.reshape(-1)
    cumulative = np.cumsum(confusion[labeler_of, truth[task_of]], axis=1)
    given = np.minimum((rng.random(len(task_of))[:, None] > cumulative).sum(axis=1), k - 1)
    order = rng.permutation(len(task_of))
    return Crowd(task_of[order], labeler_of[order], given[order], truth, kinds, confusion)


def hex_ids(count: int, seed: int) -> np.ndarray:
    """`count` distinct 24-hex ids shaped like the server's (time prefix, then a counter)."""
    rng = np.random.default_rng(seed)
    start = int(rng.integers(1 << 40, 1 << 41))
    counter = int(rng.integers(0, 1 << 40))
    ms = start + np.arange(count) // 1000  # about a thousand ids per millisecond
    return np.array([f"{m:012x}{counter + i:012x}" for i, m in enumerate(ms.tolist())])
