"""The shared vocabulary: what was asked, what came back, and the record of each exchange."""
