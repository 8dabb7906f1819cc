"""What the rubric judge layer itself costs per judge call (issue: evaluate, acceptance 4).

    python bench/evaluation_grading.py [--items 1000] [--criteria 5] [--batch 256]

The judge model answers instantly in process (a deterministic keyword rule over the prompt
Assay built, returning the JSON verdict a real judge would), so every microsecond measured
is Assay's: building each judge prompt and request, the cache keys, parsing the verdict,
aggregating scores, and the asyncio scheduling of the bounded concurrency. The HTTP path
(the provider layer's client against a loopback server) is measured with the runs.

1. a 1,000-item batch with 5 criteria each through `grade_batch` (5,000 judge calls):
   wall time, CPU, µs per judge call, verdicts/s;
2. the same batch again with the verdict cache warm (no calls);
3. a 256-triple grading batch, cold cache (median of 20): the RL grading service's latency;
4. the same 256 triples through a cascade (two cheap samples, one in five escalated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time

from assay.evaluation.chat import ChatRequest, ChatResult
from assay.evaluation.grading import Cascade, GradingItem, MemoryVerdictCache, grade_batch
from assay.evaluation.judges import Judge
from assay.evaluation.rubrics import parse_rubric

_SECTION = re.compile(r"<<(\w+)>>\n(.*?)\n<</\1>>", re.DOTALL)


class InstantJudge:
    """Met when the criterion's last word appears in the response; `unsure` makes one
    criterion in five low-confidence (for the cascade)."""

    def __init__(self, name: str, unsure: bool = False) -> None:
        self.name = name
        self.unsure = unsure
        self.calls = 0

    async def complete(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        parts = dict(_SECTION.findall(request.messages[-1]["content"]))
        word = parts["criterion"].rsplit(" ", 1)[-1]
        met = word in parts["response"]
        confidence = 0.4 if self.unsure and word.endswith("4") else 0.95
        text = json.dumps({"explanation": "rule", "criteria_met": met, "confidence": confidence})
        return ChatResult(text, prompt_tokens=len(request.messages[-1]["content"]) // 4)


def triples(items: int, criteria: int) -> list[GradingItem]:
    out = []
    for i in range(items):
        rubric = parse_rubric(
            [
                {"text": f"Mentions the fact w{i}x{k}", "points": (-2 if k == criteria - 1 else 3)}
                for k in range(criteria)
            ]
        )
        response = " ".join(f"w{i}x{k}" for k in range(0, criteria, 2)) + " and more text " * 20
        out.append(
            GradingItem(f"Question {i}: tell me everything about topic {i}.", response, rubric)
        )
    return out


def timed(coroutine_factory) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = asyncio.run(coroutine_factory())
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    batch = triples(args.items, args.criteria)
    model = InstantJudge("instant")
    judge = Judge(model)
    cache = MemoryVerdictCache()
    wall, cpu, result = timed(
        lambda: grade_batch(judge, batch, cache=cache, concurrency=args.concurrency)
    )
    calls = model.calls
    assert calls == args.items * args.criteria and result.judged == calls
    print(
        f"1. {args.items} items x {args.criteria} criteria: {calls} judge calls in {wall:.3f} s "
        f"(CPU {cpu:.3f} s): {wall / calls * 1e6:.0f} µs per call, {calls / wall:,.0f} verdicts/s"
    )
    wall, cpu, again = timed(lambda: grade_batch(judge, batch, cache=cache))
    assert model.calls == calls and again.cache_hits == calls
    print(f"2. the same batch, cache warm: {wall * 1000:.1f} ms (CPU {cpu * 1000:.1f} ms), 0 calls")

    small = triples(args.batch, args.criteria)
    runs = []
    for _ in range(20):
        wall, _cpu, _result = timed(lambda: grade_batch(Judge(InstantJudge("instant")), small))
        runs.append(wall)
    print(
        f"3. a {args.batch}-triple grading batch ({args.batch * args.criteria} verdicts), cold: "
        f"median {statistics.median(runs) * 1000:.1f} ms, max {max(runs) * 1000:.1f} ms"
    )
    runs = []
    for _ in range(20):
        cheap, strong = InstantJudge("cheap", unsure=True), InstantJudge("strong")
        cascade = Cascade(Judge(cheap, seed=0), Judge(strong))
        wall, _cpu, result = timed(lambda cascade=cascade: grade_batch(cascade, small))
        runs.append(wall)
    print(
        f"4. the same through a cascade: {cheap.calls} cheap + {strong.calls} strong calls, "
        f"{result.escalated} escalated: median {statistics.median(runs) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
