"""The Lab window: Compare (panes, blind votes, diff), the Leaderboard, Sweep (a grid of runs
and its results), and other tools' pages."""
