"""The GraspNet-1Billion AP judge: per-image scoring, dumps for consistency checks, the detection dumps it scores
and the report (it reads roots with grasp6d_core.data.scene_io)."""
