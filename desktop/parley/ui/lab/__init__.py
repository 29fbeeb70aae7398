"""The Lab window: Compare (panes, blind votes, diff), the Leaderboard, and other tools' pages."""
