"""scenario_tests, scenario_test_metrics, scenario_test_results: Validate's scenario tests —
a slice and the metrics a model must reach on it, and each metric's value and pass/fail per
model evaluation (the history)

See `curation/models.py::ScenarioTest` and `curation/scenarios.py`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scenario_tests",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("slice_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("baseline_model_id", sa.String(length=24), nullable=True),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_scenario_tests_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slice_id"],
            ["dataset_slices.id"],
            name=op.f("fk_scenario_tests_slice_id_dataset_slices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["baseline_model_id"],
            ["curation_models.id"],
            name=op.f("fk_scenario_tests_baseline_model_id_curation_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_scenario_tests_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_tests")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_scenario_tests_dataset_id_name")),
    )
    op.create_index("ix_scenario_tests_slice", "scenario_tests", ["slice_id"], unique=False)

    op.create_table(
        "scenario_test_metrics",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("scenario_test_id", sa.String(length=24), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("tolerance", sa.Float(), nullable=False),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_test_id"],
            ["scenario_tests.id"],
            name=op.f("fk_scenario_test_metrics_scenario_test_id_scenario_tests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_test_metrics")),
    )
    op.create_index(
        "ix_scenario_test_metrics_test", "scenario_test_metrics", ["scenario_test_id"], unique=False
    )

    op.create_table(
        "scenario_test_results",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("scenario_test_id", sa.String(length=24), nullable=False),
        sa.Column("metric_id", sa.String(length=24), nullable=False),
        sa.Column("evaluation_id", sa.String(length=24), nullable=False),
        sa.Column("model_id", sa.String(length=24), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("baseline_model_id", sa.String(length=24), nullable=True),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_test_id"],
            ["scenario_tests.id"],
            name=op.f("fk_scenario_test_results_scenario_test_id_scenario_tests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["scenario_test_metrics.id"],
            name=op.f("fk_scenario_test_results_metric_id_scenario_test_metrics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["dataset_evaluations.id"],
            name=op.f("fk_scenario_test_results_evaluation_id_dataset_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["curation_models.id"],
            name=op.f("fk_scenario_test_results_model_id_curation_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_test_results")),
        sa.UniqueConstraint(
            "metric_id",
            "evaluation_id",
            name=op.f("uq_scenario_test_results_metric_id_evaluation_id"),
        ),
    )
    op.create_index(
        "ix_scenario_test_results_test",
        "scenario_test_results",
        ["scenario_test_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_scenario_test_results_evaluation",
        "scenario_test_results",
        ["evaluation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_scenario_test_results_evaluation", table_name="scenario_test_results")
    op.drop_index("ix_scenario_test_results_test", table_name="scenario_test_results")
    op.drop_table("scenario_test_results")
    op.drop_index("ix_scenario_test_metrics_test", table_name="scenario_test_metrics")
    op.drop_table("scenario_test_metrics")
    op.drop_index("ix_scenario_tests_slice", table_name="scenario_tests")
    op.drop_table("scenario_tests")
