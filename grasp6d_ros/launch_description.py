"""The demo graph as plain data: which nodes, with which parameters and remaps, for each launch choice.

launch/launch_ros are not on PyPI, so the graph lives here; ``launch/grasp_demo.launch.py`` turns these specs
into launch_ros ``Node`` actions on a real ROS 2 install, and :mod:`grasp6d_ros.demo` runs our own nodes
in one process from the same specs. Parameters come from ``config/<node>.yaml`` (ROS 2 params-file format),
then from the user's ``params_file`` (node name or ``/**`` keys), then from launch-level overrides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "grasp6d_ros"
CAMERAS = ("realsense", "kinect", "playback", "none")
EXECUTORS = ("moveit", "sim", "none")
# Our nodes and the config file holding each one's defaults.
NODE_CONFIGS = {"camera_node": "camera.yaml", "tsdf_node": "tsdf.yaml", "detector_node": "detector.yaml",
                "executor_node": "executor.yaml"}
# Our lifecycle (managed) nodes: ``autostart:=false`` leaves them unconfigured for the user's lifecycle manager.
MANAGED_NODES = ("tsdf_node", "detector_node")


@dataclass
class NodeSpec:
    package: str
    executable: str
    name: str
    namespace: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)

    @property
    def ours(self) -> bool:
        return self.package == PACKAGE


def config_dir() -> Path:
    """config/ of the source tree, or share/grasp6d_ros/config of an installed package."""
    source = Path(__file__).resolve().parent.parent / "config"
    if source.is_dir():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE)) / "config"
    except (ImportError, LookupError, OSError) as error:  # no ament index (pip install; OSError: AMENT_PREFIX_PATH unset): say where we looked
        raise FileNotFoundError(f"grasp6d config directory not found (looked in {source})") from error


def load_yaml(path: Path) -> dict:
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def node_parameters(params: dict, node_name: str) -> dict[str, Any]:
    """``ros__parameters`` for ``node_name`` from a params-file mapping (``/**`` first, then the node's own)."""
    merged: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}"):
        section = params.get(key) or {}
        merged.update(section.get("ros__parameters") or {})
    return merged


def _file_parameters(directory: Path, node_name: str) -> dict[str, Any]:
    filename = NODE_CONFIGS.get(node_name)
    path = directory / filename if filename else None
    return node_parameters(load_yaml(path), node_name) if path and path.is_file() else {}


def _resolve_paths(parameters: dict[str, Any], directory: Path) -> dict[str, Any]:
    """A relative ``path`` parameter in grasp_demo.yaml names a file shipped beside it (the demo recording)."""
    out = dict(parameters)
    if isinstance(out.get("path"), str) and out["path"] and not Path(out["path"]).is_absolute():
        out["path"] = str(directory / out["path"])
    return out


def describe(camera: str = "playback", executor: str = "sim", rviz: bool = False, params_file: str | None = None,
             depth_topic: str = "", info_topic: str = "", config: Path | None = None,
             autostart: bool = True) -> list[NodeSpec]:
    """Node specs of the grasp demo for one set of launch arguments. ``autostart`` False overrides the managed
    nodes' ``autostart`` parameter (True leaves it to config/ and the params_file, where it defaults to true)."""
    if camera not in CAMERAS:
        raise ValueError(f"camera:='{camera}' is not one of {'|'.join(CAMERAS)}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor:='{executor}' is not one of {'|'.join(EXECUTORS)}")
    directory = Path(config) if config else config_dir()
    demo = load_yaml(directory / "grasp_demo.yaml")
    user = load_yaml(Path(params_file)) if params_file else {}
    choice = demo["cameras"][camera]

    driver = choice.get("driver")
    # Parameters the camera choice sets for our nodes: the driver's own (camera_node) and per-node overrides
    # (e.g. the playback recording's camera pose). Between config/<node>.yaml and the user's params_file.
    choice_parameters = {name: dict(values or {}) for name, values in (choice.get("overrides") or {}).items()}
    if driver and driver["package"] == PACKAGE:
        choice_parameters.setdefault(driver["executable"], {}).update(driver.get("parameters") or {})

    def ours(name: str, remappings: list[tuple[str, str]], extra: dict | None = None) -> NodeSpec:
        parameters = _file_parameters(directory, name)
        parameters.update(_resolve_paths(choice_parameters.get(name, {}), directory))
        parameters.update(node_parameters(user, name))
        parameters.update(extra or {})
        if not autostart and name in MANAGED_NODES:
            parameters["autostart"] = False
        return NodeSpec(PACKAGE, name, name, parameters=parameters, remappings=remappings)

    specs: list[NodeSpec] = []
    if driver:
        if driver["package"] == PACKAGE:
            specs.append(ours(driver["executable"], []))
        else:
            specs.append(NodeSpec(driver["package"], driver["executable"], driver["name"], driver.get("namespace", ""),
                                  dict(driver.get("parameters") or {})))
    inputs = demo["tsdf_inputs"]
    specs.append(ours("tsdf_node", [(inputs["depth_image"], depth_topic or choice["depth_image"]),
                                    (inputs["camera_info"], info_topic or choice["camera_info"])]))
    specs.append(ours("detector_node", [("surface", demo["tsdf_surface"])]))
    if executor != "none":
        specs.append(ours("executor_node", [("grasps", demo["detector_grasps"]), ("surface", demo["tsdf_surface"])],
                          {"backend": executor}))
    if rviz:
        specs.append(NodeSpec("rviz2", "rviz2", "rviz2", arguments=["-d", str(directory / "grasp_demo.rviz")]))
    return specs


def not_installed(spec: NodeSpec) -> str | None:
    """One line saying that ``spec``'s package is not installed (the graph then runs without it), else None.

    RViz and the camera drivers are optional on a machine without a display or that camera; our own package
    is always there when this module runs from an install."""
    if spec.ours:
        return None
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        get_package_prefix(spec.package)
    except PackageNotFoundError:
        return (f"{spec.package} is not installed (no package '{spec.package}' on AMENT_PREFIX_PATH): "
                f"not starting {spec.name}; the rest of the graph runs without it")
    return None


def ros_arguments(spec: NodeSpec) -> list[str]:
    """``--ros-args`` for an rclpy node created in-process from ``spec`` (remaps; parameters go as overrides)."""
    args = ["--ros-args"]
    for source, target in spec.remappings:
        args += ["-r", f"{source}:={target}"]
    return args if len(args) > 1 else []
