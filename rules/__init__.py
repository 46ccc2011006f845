"""medtap's rule catalogue and data tables: YAML files only, shipped as package data (collector.datafiles)."""
