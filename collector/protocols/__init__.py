"""Protocol detectors, one module each; `registry.all_detectors()` discovers them."""
