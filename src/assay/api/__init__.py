"""The HTTP API: thin routers over the domain services (`create_app` builds it)."""
