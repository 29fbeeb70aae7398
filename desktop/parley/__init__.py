"""Parley: a desktop chat client for LLM chat-completion APIs."""

__version__ = "0.1.0"

# The reverse-DNS application id: desktop entry, AppStream metainfo, icon and Wayland app id.
APP_ID = "io.github.parley_chat.Parley"
