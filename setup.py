"""pip route: `pip install .` gives grasp6d_core (no ROS needed) and the `grasp6d` command.

The ROS route builds the same code with colcon (CMakeLists.txt), which also generates the interfaces.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

# One version: grasp6d_core.__version__ (package.xml must spell it literally for ROS; a test checks they agree).
VERSION = re.search(r'__version__ = "([^"]+)"', Path(__file__).with_name("grasp6d_core").joinpath("__init__.py")
                    .read_text()).group(1)

setup(
    name="grasp6d",
    version=VERSION,
    description="6-DoF grasp detection for parallel-jaw grippers: TSDF fusion, a sparse-conv grasp network, "
                "GraspNet-format data and evaluation",
    packages=find_packages(include=["grasp6d_core", "grasp6d_core.*", "grasp6d_ros", "grasp6d_ros.*"]),
    package_data={"grasp6d_core": ["configs/*/*.yaml"]},
    # the shipped weights; GraspDetector.from_checkpoint() finds them under <prefix>/share/grasp6d/models
    data_files=[("share/grasp6d/models", ["models/grasp6d_cpu.pt"])],
    python_requires=">=3.10",
    install_requires=[
        "torch==2.13.0", "spconv==2.3.8", "open3d==0.20.0", "numpy", "scipy", "pyrealsense2", "pybullet",
        "trimesh", "pyyaml", "tqdm", "matplotlib", "pillow", "fpsample==1.0.2", "tensorboard",
    ],
    extras_require={"test": ["pytest", "pytest-timeout"], "kinect": ["pyk4a"]},
    entry_points={"console_scripts": ["grasp6d = grasp6d_core.cli:main"]},
)
