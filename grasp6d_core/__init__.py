"""grasp6d_core: 6-DoF grasp detection without ROS (sensing, fusion, data, model, evaluation, execution)."""
from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation, approach_of

__version__ = "0.1.0"
__all__ = ["CameraIntrinsics", "GraspGroup", "grasp_rotation", "approach_of", "__version__"]
