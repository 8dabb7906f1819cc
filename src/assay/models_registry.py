"""Imports every module that defines tables, so the metadata is complete (Alembic, tests)."""

from assay.core import models as core_models
from assay.curation import models as curation_models
from assay.evaluation import models as evaluation_models
from assay.labeling import models as labeling_models

__all__ = ["core_models", "curation_models", "evaluation_models", "labeling_models"]
