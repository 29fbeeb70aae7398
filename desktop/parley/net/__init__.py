"""The network layer: the only package that imports httpx."""
