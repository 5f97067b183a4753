"""The GraspNet-1Billion AP judge: dataset reading, per-image scoring, dumps for consistency checks."""
