"""medtap API, web UI, CLI and persistence: the outermost layer."""
