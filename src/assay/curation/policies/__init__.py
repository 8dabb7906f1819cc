"""Who may do what in the curation pillar: one module per noun (see `core/policies`)."""
