"""Who may do what in the evaluate pillar: one module per noun, one function per action."""
