"""String scorers: exact match with configurable normalisation, SQuAD-style token F1, regex.

A target may be one string or a list of accepted strings; the best match counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.scorers.registry import Score, scorer

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_SPACES = re.compile(r"\s+")


def normalize(
    text: str,
    *,
    case: bool = True,
    whitespace: bool = True,
    punctuation: bool = False,
    articles: bool = False,
) -> str:
    """`text` with the chosen differences removed: letter case, runs of whitespace (collapsed
    and stripped), ASCII punctuation, English articles (a, an, the)."""
    if case:
        text = text.lower()
    if punctuation:
        text = text.translate(_PUNCTUATION)
    if articles:
        text = _ARTICLES.sub(" ", text)
    if whitespace:
        text = _SPACES.sub(" ", text).strip()
    return text


def targets_of(target: Any) -> list[str]:
    """The accepted answers of a target: one string, a list of them, or a number."""
    if target is None:
        return []
    if isinstance(target, str):
        return [target]
    if isinstance(target, int | float) and not isinstance(target, bool):
        return [str(target)]
    if isinstance(target, Sequence):
        return [str(t) for t in target]
    raise Invalid("a target must be a string or a list of strings", field="target")


@scorer("exact_match")
def exact_match(
    response: str,
    target: Any,
    *,
    case: bool = True,
    whitespace: bool = True,
    punctuation: bool = False,
    articles: bool = False,
) -> Score:
    """1 when the normalised response equals a normalised accepted answer."""
    options = {"case": case, "whitespace": whitespace, "punctuation": punctuation}
    options["articles"] = articles
    answer = normalize(response, **options)
    for accepted in targets_of(target):
        if answer == normalize(accepted, **options):
            return Score(1.0, answer, f"matches {accepted!r}")
    return Score(0.0, answer, f"matches none of {targets_of(target)!r}")


def _squad_tokens(text: str) -> list[str]:
    return normalize(text, punctuation=True, articles=True).split()


def token_f1_of(prediction: str, reference: str) -> float:
    """SQuAD's F1 over the bag of normalised tokens (lower case, no punctuation/articles)."""
    predicted, expected = _squad_tokens(prediction), _squad_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


@scorer("token_f1")
def token_f1(response: str, target: Any) -> Score:
    """SQuAD-style token F1 against the best-matching accepted answer."""
    accepted = targets_of(target)
    if not accepted:
        return Score(0.0, response, "no reference answer")
    best = max(accepted, key=lambda a: token_f1_of(response, a))
    return Score(token_f1_of(response, best), response, f"best against {best!r}")


_MODES = ("search", "match", "fullmatch")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _compile(pattern: str, flags: str) -> re.Pattern[str]:
    value = 0
    for letter in flags:
        if letter not in _FLAGS:
            raise Invalid(f"regex flags are letters of {''.join(_FLAGS)}", field="options.flags")
        value |= _FLAGS[letter]
    try:
        return re.compile(pattern, value)
    except re.error as exc:
        raise Invalid(f"not a regular expression: {exc}", field="options.pattern") from exc


@scorer("regex")
def regex(
    response: str,
    target: Any,
    *,
    pattern: str = "",
    mode: str = "search",
    flags: str = "",
    group: int = 1,
) -> Score:
    """Whether `pattern` (the target when empty) matches the response with re.search, re.match
    or re.fullmatch; the answer is the captured `group` (the whole match without groups). With
    both a pattern and a target, the captured answer must also equal the target."""
    if mode not in _MODES:
        raise Invalid(f"mode must be one of {', '.join(_MODES)}", field="options.mode")
    accepted = targets_of(target)
    source = pattern or (accepted[0] if accepted else "")
    if not source:
        raise Invalid("regex needs a pattern (an option, or the target)", field="options.pattern")
    found = getattr(_compile(source, flags), mode)(response)
    if found is None:
        return Score(0.0, None, f"no {mode} of /{source}/")
    answer = found.group(group) if found.re.groups >= group > 0 else found.group(0)
    if pattern and accepted:
        ok = answer is not None and answer.strip() in [a.strip() for a in accepted]
        return Score(float(ok), answer, f"captured {answer!r}; expected one of {accepted!r}")
    return Score(1.0, answer, f"{mode} of /{source}/ found {found.group(0)!r}")
