"""Who may do what in labeling: one module per noun, one function per action, each raising
`Forbidden` (or `NotFound` where existence is not the caller's business).

The role checks every pillar shares (`require_role`, `require_live`, `require_same_mode`)
are `assay.core.policies`'.
"""
