"""Reference-overlap scorers through the maintained libraries: BLEU (sacrebleu) and ROUGE
(Google's rouge-score, the package the ROUGE papers' numbers are reproduced with).

Per item: sentence BLEU and ROUGE F-measure against the item's references (a list of
accepted answers is several references). Over a run: corpus BLEU, which is not the mean of
sentence BLEUs (it pools n-gram counts before the brevity penalty).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.scorers.registry import CorpusScore, Score, scorer
from assay.evaluation.scorers.text import targets_of

_ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@scorer("bleu")
def bleu(response: str, target: Any, *, lowercase: bool = False, tokenize: str = "13a") -> Score:
    """Sentence BLEU (sacrebleu, exponential smoothing) / 100, so 1 is a perfect match."""
    import sacrebleu

    references = targets_of(target)
    if not references:
        return Score(0.0, None, "no reference answer")
    found = sacrebleu.sentence_bleu(response, references, lowercase=lowercase, tokenize=tokenize)
    return Score(min(found.score / 100, 1.0), None, str(found), {"bleu": found.score})


@scorer("corpus_bleu", kind="corpus")
def corpus_bleu(
    responses: Sequence[str],
    targets: Sequence[Any],
    *,
    lowercase: bool = False,
    tokenize: str = "13a",
) -> CorpusScore:
    """Corpus BLEU (sacrebleu) / 100 over the run; items may have different reference counts."""
    import sacrebleu

    per_item = [targets_of(t) for t in targets]
    if any(not refs for refs in per_item):
        raise Invalid("every item needs a reference answer for corpus BLEU", field="target")
    width = max((len(refs) for refs in per_item), default=0)
    # sacrebleu takes reference *streams*; a missing reference in a stream is None.
    streams = [[refs[k] if k < len(refs) else None for refs in per_item] for k in range(width)]
    found = sacrebleu.corpus_bleu(list(responses), streams, lowercase=lowercase, tokenize=tokenize)
    metrics = {"bleu": found.score, "precisions": found.precisions, "bp": found.bp}
    return CorpusScore(min(found.score / 100, 1.0), metrics, str(found))


@cache
def _rouge_scorer(kind: str, stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([kind], use_stemmer=stemmer)


@scorer("rouge")
def rouge(response: str, target: Any, *, kind: str = "rougeL", stemmer: bool = True) -> Score:
    """ROUGE F-measure (rouge-score) against the best-matching reference."""
    if kind not in _ROUGE_TYPES:
        raise Invalid(f"kind must be one of {', '.join(_ROUGE_TYPES)}", field="options.kind")
    references = targets_of(target)
    if not references:
        return Score(0.0, None, "no reference answer")
    found = _rouge_scorer(kind, stemmer).score_multi(references, response)[kind]
    explanation = f"{kind} P={found.precision:.3f} R={found.recall:.3f} F={found.fmeasure:.3f}"
    return Score(found.fmeasure, None, explanation, {"precision": found.precision})
