"""Data engine: object library, SDF grids, grasp labels, synthetic scenes in GraspNet-1Billion's layout, reading
such roots (scene_io), training targets, and the GraspNetDataset loader. See docs/data.md; CLI: ``grasp6d synth``."""
