"""Every write of the facilities app that matters, one module per topic (STYLE R15)."""
