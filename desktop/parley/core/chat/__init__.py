"""Parley's chat machinery: one prepared request per send and the one stream loop."""
