"""Who may do what in the evaluation pillar, one module per noun."""
