"""The history in the window: the sidebar's list and actions, and recovery from a bad history."""
