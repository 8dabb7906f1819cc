"""Pure math for quality control and model evaluation: IoU, matching and scores, aggregation,
agreement, ratings; classification, segmentation and span metrics.

numpy and scipy only (no database, no HTTP, no other Assay package), so the SDK can use it.
"""
