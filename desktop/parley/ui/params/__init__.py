"""The parameter panel's parts: the request preview (and, in time, the panel and pickers)."""
