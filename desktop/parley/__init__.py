"""Parley: a desktop chat client for LLM chat-completion APIs."""

__version__ = "0.1.0"
