"""The evaluate pillar's response models as the SDK reads them (lenient: a newer server may
add fields), kept apart from `sdk/models.py`'s by pillar."""

from __future__ import annotations

from typing import Any

from assay.evaluation import calibration_schemas as _calibration
from assay.evaluation import eval_set_schemas as eval_set
from assay.evaluation import grading_schemas as _grading
from assay.evaluation import human_evaluation_schemas as _human
from assay.evaluation import judge_schemas as _judges
from assay.evaluation import provider_schemas as _providers
from assay.evaluation import run_schemas as _runs
from assay.labeling import rater_profile_schemas as _profiles
from assay.sdk.models import _LENIENT, Page

# --- evaluation: model providers ----------------------------------------------------------


class Provider(_providers.Provider):
    model_config = _LENIENT


class ProviderCheckResult(_providers.ProviderCheckResult):
    model_config = _LENIENT


# --- evaluation sets ----------------------------------------------------------------------


class EvalSet(eval_set.EvalSet):
    model_config = _LENIENT


class EvalSetVersion(eval_set.EvalSetVersion):
    model_config = _LENIENT


class EvalItem(eval_set.EvalItem):
    model_config = _LENIENT


class EvalItemPage(Page[EvalItem]):
    version: int


class EvalSetRead(eval_set.EvalSetRead):
    model_config = _LENIENT


class EvalSetOwners(eval_set.EvalSetOwners):
    model_config = _LENIENT


class CanaryCheckResult(eval_set.CanaryCheckResult):
    model_config = _LENIENT


# --- evaluation: judge calibrations, human evaluations, rater profiles -----------------------


class Calibration(_calibration.Calibration):
    model_config = _LENIENT


class JudgeAgreementReport(_calibration.CalibrationReport):
    model_config = _LENIENT


class HumanEvaluation(_human.HumanEvaluation):
    model_config = _LENIENT


class HumanEvaluationResults(_human.HumanEvaluationResults):
    model_config = _LENIENT


class RaterProfile(_profiles.RaterProfile):
    model_config = _LENIENT


# --- evaluation: judges and the grading service ---------------------------------------------


class JudgePrompt(_judges.JudgePrompt):
    model_config = _LENIENT


class Judge(_judges.Judge):
    model_config = _LENIENT


class JudgeWeights(_judges.Weights):
    model_config = _LENIENT


class ProbeReport(_judges.ProbeReport):
    model_config = _LENIENT


class DriftReport(_judges.DriftReport):
    model_config = _LENIENT


class GradingResult(_grading.GradingResult):
    model_config = _LENIENT


# --- evaluation runs ----------------------------------------------------------------------


class EvalRun(_runs.Run):
    model_config = _LENIENT


class EvalRunResult(_runs.RunResult):
    model_config = _LENIENT


class EvalRunResultPage(Page[EvalRunResult]):
    summary: dict[str, Any] | None = None


__all__ = [
    "Calibration",
    "CanaryCheckResult",
    "DriftReport",
    "EvalItem",
    "EvalItemPage",
    "EvalRun",
    "EvalRunResult",
    "EvalRunResultPage",
    "EvalSet",
    "EvalSetOwners",
    "EvalSetRead",
    "EvalSetVersion",
    "GradingResult",
    "HumanEvaluation",
    "HumanEvaluationResults",
    "Judge",
    "JudgeAgreementReport",
    "JudgePrompt",
    "JudgeWeights",
    "ProbeReport",
    "Provider",
    "ProviderCheckResult",
    "RaterProfile",
]
