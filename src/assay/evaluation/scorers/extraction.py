"""Answer extraction: the final number, multiple-choice letter or `\\boxed{…}` content of a
free-form response, compared with the target (numbers numerically, with a tolerance).

Numbers are read with thousands separators (1,234.5), currency and units around them
($12, 12 cm), percent (50% is 0.5 and also matches a target of 50), fractions (3/4,
\\frac{3}{4}, 1 1/2), and scientific notation (1.5e3, 1.5 x 10^3, 1.5\\times10^{3}).
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.scorers.registry import Score, scorer
from assay.evaluation.scorers.text import normalize, targets_of

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def extract_boxed(text: str) -> str | None:
    """The content of the last \\boxed{…} (or \\fbox{…}), nested braces included."""
    found = None
    for opening in _BOXED.finditer(text):
        depth, start = 1, opening.end()
        for index in range(start, len(text)):
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if not depth:
                    found = text[start:index]
                    break
    return found.strip() if found is not None else None


# Not inside a word or after a digit: "H2O" holds no number, "10-4" is 10 and 4, not -4.
_NUMBER = r"(?<![\w.])(?:[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+\u2212]?\.\d+)"
_LATEX_FRACTION = re.compile(r"(-)?\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_SCIENTIFIC = re.compile(
    rf"({_NUMBER})\s*(?:[eE]([-+]?\d+)|(?:\\times|\u00d7|x|\*|\\cdot)\s*10\s*\^\s*\{{?([-+\u2212]?\d+)\}}?)"
)
_MIXED = re.compile(r"([-+\u2212]?\d+)\s+(\d+)\s*/\s*(\d+)(?![\d.])")
_FRACTION = re.compile(rf"({_NUMBER})\s*/\s*({_NUMBER})")
_PLAIN = re.compile(rf"({_NUMBER})\s*(%|\\%|percent\b)?")
# "The answer is 14", "Final answer: 14", "answer = 14"; not "to answer this, …".
_ANSWER_IS = re.compile(
    r"answer\s*(?:\*\*)?\s*(?:is|=|:|would be)\s*(?:\*\*)?\s*:?\s*([^\n]*)", re.IGNORECASE
)


_MINUS = "\u2212"  # the typographic minus sign


def _float(text: str) -> float:
    return float(text.replace(",", "").replace(_MINUS, "-"))


def _numbers(text: str) -> list[tuple[int, float, bool]]:
    """(position, value, written as percent) of every number in `text`, composite forms
    (fractions, scientific) read before their parts."""
    found: list[tuple[int, float, bool]] = []
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return all(match.end() <= a or match.start() >= b for a, b in taken)

    def add(match: re.Match[str], value: float, percent: bool = False) -> None:
        found.append((match.start(), value, percent))
        taken.append(match.span())

    for match in _LATEX_FRACTION.finditer(text):
        try:
            value = _float(match.group(2)) / _float(match.group(3))
        except (ValueError, ZeroDivisionError):
            continue
        add(match, -value if match.group(1) else value)
    for match in _SCIENTIFIC.finditer(text):
        if free(match):
            exponent = match.group(2) or match.group(3)
            add(match, _float(match.group(1)) * 10.0 ** int(exponent.replace(_MINUS, "-")))
    for match in _MIXED.finditer(text):
        if free(match) and float(match.group(3)):
            whole = _float(match.group(1))
            part = _float(match.group(2)) / _float(match.group(3))
            add(
                match,
                whole - part if whole < 0 or match.group(1)[0] in "-" + _MINUS else whole + part,
            )
    for match in _FRACTION.finditer(text):
        if free(match) and _float(match.group(2)):
            add(match, _float(match.group(1)) / _float(match.group(2)))
    for match in _PLAIN.finditer(text):
        if free(match):
            percent = match.group(2) is not None
            value = _float(match.group(1))
            add(match, value / 100 if percent else value, percent)
    return sorted(found)


def parse_number(text: str, *, first: bool = False) -> tuple[float, bool] | None:
    """The last (or first) number in `text` and whether it was a percent; None without one."""
    found = _numbers(text)
    if not found:
        return None
    _, value, percent = found[0] if first else found[-1]
    return value, percent


def extract_number(response: str) -> tuple[str, float, bool] | None:
    """(where it was read, value, percent) of a response's final numeric answer: the boxed
    content, else the first number after the last "answer is", else the response's last."""
    candidates: list[tuple[str, bool]] = []
    boxed = extract_boxed(response)
    if boxed is not None:
        candidates.append((boxed, False))
    stated = _ANSWER_IS.findall(response)
    if stated:
        candidates.append((stated[-1], True))
    candidates.append((response, False))
    for text, first in candidates:
        found = parse_number(text, first=first)
        if found is not None:
            return text.strip(), found[0], found[1]
    return None


def numbers_equal(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _target_numbers(target: Any) -> list[tuple[float, bool]]:
    if isinstance(target, int | float) and not isinstance(target, bool):
        return [(float(target), False)]
    found = []
    for accepted in targets_of(target):
        parsed = parse_number(accepted)
        if parsed is None:
            raise Invalid(f"target {accepted!r} holds no number", field="target")
        found.append(parsed)
    return found


@scorer("number_match")
def number_match(
    response: str, target: Any, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9
) -> Score:
    """1 when the response's final number equals the target's, within the tolerances (a
    percent also matches its number: 50% matches 0.5 and 50)."""
    found = extract_number(response)
    if found is None:
        return Score(0.0, None, "no number in the response")
    _, value, percent = found
    for expected, target_percent in _target_numbers(target):
        options = [value] + ([value * 100] if percent and not target_percent else [])
        options += [value / 100] if target_percent and not percent else []
        if any(numbers_equal(v, expected, rel_tol, abs_tol) for v in options):
            return Score(1.0, _format(value), f"{_format(value)} equals {_format(expected)}")
    return Score(0.0, _format(value), f"{_format(value)} is not {targets_of(target)!r}")


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@cache
def _choice_patterns(letters: str) -> list[tuple[re.Pattern[str], bool]]:
    """(pattern, whether its first match wins) in order of trust; letters are upper case."""
    upper = f"[{re.escape(letters.upper())}]"
    lower = f"[{re.escape(letters.lower())}]"
    stated = (
        r"(?i:answer|option|choice|choose|select|pick)\w*\s*(?i:is|would be|:|=)?\s*"
        r"(?i:option|choice)?\s*[\*\(\[\{]*\s*"
    )
    return [
        # "Answer: (B)", "the correct answer is B", "final answer: **C**", "option D", "I choose A"
        (re.compile(rf"{stated}({upper})(?![\w])"), False),
        # … and in lower case only before a closing mark: "answer is b." but not "answer is a
        # bit long", where "a" is an article.
        (re.compile(rf"{stated}({lower})(?=\s*(?:[\)\].:,*]|$))"), False),
        # the whole response is the letter, bare or dressed: "B", "(B)", "**B.**"
        (re.compile(rf"^\W*({upper})\W*$"), False),
        # a line starting with it, the answer's first line: "B) 42", "C. because…"
        (re.compile(rf"^\s*[\*\(\[]*({upper})[\)\].:]", re.MULTILINE), True),
        # the last parenthesised letter anywhere: "… so (C)"
        (re.compile(rf"\(({upper})\)"), False),
    ]


def extract_choice(response: str, letters: str = "ABCDEFGHIJ") -> str | None:
    """The multiple-choice letter a response picks (upper case), from the usual phrasings;
    elsewhere the last statement wins ("A? No, the answer is C")."""
    boxed = extract_boxed(response)
    if boxed is not None:
        inner = re.sub(r"\\text\{([^{}]*)\}", r"\1", boxed).strip(" ()*.")
        if len(inner) == 1 and inner.upper() in letters.upper():
            return inner.upper()
    for pattern, first_wins in _choice_patterns(letters):
        found = pattern.findall(response)
        if found:
            return (found[0] if first_wins else found[-1]).upper()
    return None


@scorer("choice_match")
def choice_match(response: str, target: Any, *, letters: str = "ABCDEFGHIJ") -> Score:
    """1 when the letter the response picks is the target's letter."""
    answer = extract_choice(response, letters)
    accepted = [t.strip().strip("()").upper() for t in targets_of(target)]
    if answer is None:
        return Score(0.0, None, "no choice found in the response")
    return Score(float(answer in accepted), answer, f"picked {answer}; expected {accepted}")


def _latex_normal(text: str) -> str:
    text = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\(?:left|right|displaystyle|!|,|;|:)", "", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("$", "")
    return normalize(text).replace(" ", "").rstrip(".")


@scorer("boxed_match")
def boxed_match(
    response: str, target: Any, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9
) -> Score:
    """1 when the last \\boxed{…} equals the target: numerically when both read as numbers,
    else as LaTeX with spacing, \\left/\\right and \\text{} ignored."""
    boxed = extract_boxed(response)
    if boxed is None:
        return Score(0.0, None, "no \\boxed{} in the response")
    value = parse_number(boxed)
    for accepted in targets_of(target):
        inner = extract_boxed(accepted) or accepted
        expected = parse_number(inner)
        both_numbers = value is not None and expected is not None
        if both_numbers and _numbers_only(boxed) and _numbers_only(inner):
            if numbers_equal(value[0], expected[0], rel_tol, abs_tol):
                return Score(1.0, boxed, f"{boxed} equals {inner} numerically")
        elif _latex_normal(boxed) == _latex_normal(inner):
            return Score(1.0, boxed, f"{boxed} matches {inner}")
    return Score(0.0, boxed, f"{boxed} is not {targets_of(target)!r}")


def _numbers_only(text: str) -> bool:
    """Whether `text` is one number (so 2\\sqrt{3} is not compared as 2)."""
    stripped = _LATEX_FRACTION.sub("0", _latex_normal(text))
    return bool(re.fullmatch(r"[-+\u2212]?[\d,.]+(?:/[\d.]+)?(?:%|\\%)?(?:e[-+]?\d+)?", stripped))
