"""Where articles come from besides local files: the one HTTP door, feeds, source health and URL rules."""
