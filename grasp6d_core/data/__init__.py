"""Data engine: object library, SDF grids, grasp labels, synthetic scenes in GraspNet-1Billion's
layout, and the GraspNetDataset loader. See docs/data.md; CLI: ``grasp6d synth``."""
