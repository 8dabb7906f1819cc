"""Pure math for quality control: IoU, matching and scores, aggregation, agreement, ratings.

numpy and scipy only (no database, no HTTP, no other Assay package), so the SDK can use it.
"""
