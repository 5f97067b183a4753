"""Depth sources (RealSense, Azure Kinect, recordings, benchmark scene directories) and TSDF fusion."""
from grasp6d_core.sensing.frame import DepthFrame, DepthSource, SourceError
from grasp6d_core.sensing.sources import SOURCE_KINDS, open_source

__all__ = ["DepthFrame", "DepthSource", "SourceError", "SOURCE_KINDS", "open_source"]
