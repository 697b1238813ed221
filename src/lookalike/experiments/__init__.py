"""Experiments: one run from settings to a folder of results (later: grids, registry, queue)."""
