"""Data engine: object SDF grids (more to come: objects, labels, scenes, loader)."""
