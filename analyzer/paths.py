"""Where medtap finds its data files: collector.datafiles (the one definition), re-exported for the
analyzer."""

from __future__ import annotations

from collector.datafiles import DataFileError, data_file, rules_dir

__all__ = ["DataFileError", "data_file", "rules_dir"]
