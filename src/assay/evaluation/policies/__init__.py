"""Who may do what in the evaluate pillar: a module per noun."""
