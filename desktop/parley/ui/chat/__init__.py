"""The chat: turns (send, regenerate, edit, continue, replay, stop) and how answers are drawn."""
