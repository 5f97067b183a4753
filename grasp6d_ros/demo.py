"""`make demo`: the whole grasp graph on the recording shipped in the repo.

camera_node (playback) -> tsdf_node -> detector_node -> executor_node (sim). Where the ROS 2 launch system is
installed the graph is started exactly as a user starts it, with
`ros2 launch grasp6d_ros grasp_demo.launch.py camera:=playback executor:=sim rviz:=false` (its output goes to
demo_out/launch.log); elsewhere (e.g. a pip-only machine) the same node specs run in this process on one
MultiThreadedExecutor. Either way a client node calls /detect_grasps (the ranked table on stdout, the fused cloud
with the top grasps in demo_out/grasps.png), then picks through executor_node's Pick action with the same
detection request: its feedback (stage, attempt, grasp score) is printed as it arrives, then the result. A
recorder writes demo_out/run.mcap.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grasp6d_core.draw import save_grasp_picture
from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_ros.launch_description import NodeSpec, describe, ros_arguments
from grasp6d_ros.launch_process import LaunchedGraph, launch_unavailable_reason

TOP_IN_PICTURE = 10
# The launch arguments of the README's "Try it without hardware" (the in-process runner builds the same graph).
LAUNCH_ARGUMENTS = ["camera:=playback", "executor:=sim", "rviz:=false"]
RUNNERS = ("auto", "launch", "in-process")


def ranked_table(grasps: GraspGroup, frame: str, limit: int = 20) -> str:
    """Score, width, position, approach and object (segment id, -1 none) of the best grasps, one line each."""
    lines = [f"{'rank':>4} {'score':>6} {'width[m]':>8}   position [{frame}] (m)       approach             object",
             "-" * 85]
    ordered = grasps.sort_by_score()
    for i in range(min(limit, len(ordered))):
        t, a = ordered.translations[i], ordered.approaches[i]
        lines.append(f"{i + 1:>4} {ordered.scores[i]:6.3f} {ordered.widths[i]:8.3f}   "
                     f"({t[0]:+.3f}, {t[1]:+.3f}, {t[2]:+.3f})   ({a[0]:+.2f}, {a[1]:+.2f}, {a[2]:+.2f})"
                     f"   {ordered.object_ids[i]:>5}")
    return "\n".join(lines)


def node_class(spec: NodeSpec):
    """The rclpy Node subclass defined in grasp6d_ros.<executable>."""
    from rclpy.node import Node
    try:
        module = importlib.import_module(f"grasp6d_ros.{spec.executable}")
    except ImportError as error:
        raise RuntimeError(f"demo: node '{spec.executable}' is not available: {error}") from error
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, Node) and c is not Node and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise RuntimeError(f"demo: grasp6d_ros.{spec.executable} must define one Node class, found {classes}")
    return classes[0]


def create_nodes(specs: list[NodeSpec], context, extra_kwargs: dict | None = None) -> list:
    """Our nodes of ``specs`` in ``context`` with their parameters and remaps (vendor drivers are skipped)."""
    from rclpy.parameter import Parameter
    nodes = []
    for spec in specs:
        if not spec.ours:
            continue
        kwargs = dict((extra_kwargs or {}).get(spec.executable, {}))
        nodes.append(node_class(spec)(context=context, cli_args=ros_arguments(spec),
                                      parameter_overrides=[Parameter(k, value=v) for k, v in spec.parameters.items()],
                                      **kwargs))
    return nodes


def sim_scene(seed: int = 1):
    """A PyBullet clutter scene, its fused world-frame cloud with normals, and the main camera's depth image."""
    from grasp6d_core.sensing.synthetic import look_at
    from grasp6d_core.sim.antipodal import cloud_with_normals
    from grasp6d_core.sim.world import DEFAULT_CAMERA, DEFAULT_INTRINSICS, ClutterWorld
    world = ClutterWorld(seed=seed)
    world.reset(scene="packed", objects="seen", count=4)
    cameras = (DEFAULT_CAMERA, look_at([0.35, 0.2, 0.5], [0, 0, 0]), look_at([-0.35, 0.2, 0.5], [0, 0, 0]))
    points, normals = cloud_with_normals([(world.point_cloud(T_world_camera=T), T[:3, 3]) for T in cameras])
    depth, _ = world.render(DEFAULT_INTRINSICS, DEFAULT_CAMERA)
    return world, points, normals, depth


def choose_detector(specs: list[NodeSpec], checkpoint: Path | None = None) -> str:
    """The learned detector when its weights exist, else the model-free antipodal baseline, said out loud.

    detector_node itself never falls back (a missing checkpoint is a ``model error`` answer); the demo does,
    so that it shows the whole graph on a fresh clone before models/grasp6d_cpu.pt exists.
    """
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    detector = next(s for s in specs if s.executable == "detector_node")
    if detector.parameters.get("detector", "model") != "model":
        return detector.parameters["detector"]
    path = Path(detector.parameters.get("checkpoint") or checkpoint or shipped_checkpoint())
    if path.is_file():
        print(f"demo: detector = the learned GraspDetector ({path})", flush=True)
        return "model"
    print(f"demo: no trained weights at {path}: using the model-free antipodal baseline instead "
          "(detector:=antipodal, world frame z up); put a checkpoint there for the learned detector", flush=True)
    # the baseline works in the z-up task frame, not in the camera frame the network runs in
    detector.parameters.update(detector="antipodal", model_frame="")
    return "antipodal"


class DemoError(Grasp6dError, RuntimeError):
    """The graph did not get as far as an execution; the text says where it stopped."""


def choose_runner(runner: str = "auto") -> str:
    """``launch`` (``ros2 launch``, the user's way) when it can run here, else ``in-process``, said out loud."""
    if runner not in RUNNERS:
        raise ValueError(f"runner '{runner}' is not one of {'|'.join(RUNNERS)}")
    if runner == "in-process":
        return runner
    reason = launch_unavailable_reason()
    if reason is None:
        return "launch"
    if runner == "launch":
        raise DemoError(f"demo: cannot start the graph with ros2 launch: {reason}")
    print(f"demo: running the nodes in this process, not through ros2 launch: {reason}", flush=True)
    return "in-process"


def parameter_overrides(specs: list[NodeSpec], base: list[NodeSpec]) -> dict[str, dict]:
    """Per node, the parameters of ``specs`` that differ from ``base`` (what a params_file must carry)."""
    defaults = {spec.executable: spec.parameters for spec in base}
    missing = object()
    overrides = {}
    for spec in specs:
        changed = {k: v for k, v in spec.parameters.items() if defaults.get(spec.executable, {}).get(k, missing) != v}
        if changed:
            overrides[spec.executable] = changed
    return overrides


def launch_graph(specs: list[NodeSpec], out_dir: Path) -> LaunchedGraph:
    """Start the demo graph with ``ros2 launch``; parameters the demo changed go in a params file."""
    import yaml
    arguments = list(LAUNCH_ARGUMENTS)
    overrides = parameter_overrides(specs, describe(camera="playback", executor="sim", rviz=False))
    if overrides:
        params = out_dir / "params.yaml"
        params.write_text(yaml.safe_dump({name: {"ros__parameters": values} for name, values in overrides.items()}))
        arguments.append(f"params_file:={params}")
    graph = LaunchedGraph(arguments, out_dir / "launch.log")
    print(f"demo: started `ros2 launch grasp6d_ros grasp_demo.launch.py {' '.join(arguments)}` "
          f"(output: {graph.log})", flush=True)
    return graph


@dataclass
class DemoResult:
    detection: Any          # DetectGrasps.Response
    outcome: Any            # Pick.Result: success, stage, message, the grasp executed
    detector: str           # model | antipodal
    messages: dict[str, int]  # recorded messages per topic
    runner: str = "in-process"  # launch | in-process
    launch_exit: int | None = None  # exit code of ros2 launch after its Ctrl-C (launch runner)
    feedback: list = field(default_factory=list)  # the Pick feedback messages, in order
    status: int | None = None  # the Pick goal's final action_msgs/GoalStatus


def run_graph(out_dir: Path, timeout: float = 150.0, source: str = "playback", target_frame: str = "",
              parameters: dict[str, dict] | None = None, runner: str = "auto") -> DemoResult:
    """Run the graph once: wait for a surface, detect (grasps in ``target_frame``, '' = the cloud's), draw, pick
    through the Pick action (a detection goal: the ranked grasps, best first); raise DemoError when a step fails
    before the execution. ``parameters``: per node name, values over the launch module's (as a params_file
    would). ``runner``: how the playback graph is started (:func:`choose_runner`); the sim source always runs in
    this process (its world lives here)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from sensor_msgs.msg import Image, PointCloud2
    from visualization_msgs.msg import MarkerArray

    from grasp6d_ros.conversions import grasp_msgs_to_group, pointcloud2_to_numpy
    from grasp6d_ros.mcap_writer import McapRecorder
    from grasp6d_ros.action import Pick
    from grasp6d_ros.msg import Grasp6DArray
    from grasp6d_ros.pick_client import PickClientNode, feedback_line, send_pick
    from grasp6d_ros.detector_node import NO_CLOUD_YET
    from grasp6d_ros.services import call_until_ready
    from grasp6d_ros.spin import spinning_in_background
    from grasp6d_ros.srv import DetectGrasps

    start = time.monotonic()
    extra, world = {}, None
    if source == "sim":
        # No recording: the scene is a PyBullet world; the demo publishes its fused cloud as the TSDF surface,
        # the model-free antipodal detector reads it (z up, world frame) and the sim hand acts in that world.
        from grasp6d_ros.conversions import metres_to_depth_image, numpy_to_pointcloud2
        from grasp6d_ros.sim_backend import SimBackend
        world, scene_points, scene_normals, scene_depth = sim_scene()
        specs = [s for s in describe(camera="none", executor="sim") if s.executable in ("detector_node", "executor_node")]
        for spec in specs:
            spec.parameters.update({"detector": "antipodal"} if spec.executable == "detector_node"
                                   else {"base_frame": "world"})
        extra = {"executor_node": {"backend": SimBackend(world=world)}}
        detector = "antipodal"
    else:
        specs = describe(camera="playback", executor="sim", rviz=False)
        detector = choose_detector(specs)
    for spec in specs:
        spec.parameters.update((parameters or {}).get(spec.executable, {}))
    runner = choose_runner(runner) if source == "playback" else "in-process"
    out_dir.mkdir(parents=True, exist_ok=True)
    context = Context()
    rclpy.init(context=context)
    recorder = McapRecorder(out_dir / "run.mcap")
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    graph = None
    try:
        if runner == "launch":
            graph = launch_graph(specs, out_dir)
            nodes = []
        else:
            nodes = create_nodes(specs, context, extra)
        client = PickClientNode("demo_client", context=context)
        nodes.append(client)
        latest: dict[str, object] = {}
        by_name = {s.executable: s for s in specs}
        depth_topic = (dict(by_name["tsdf_node"].remappings)["depth/image"] if "tsdf_node" in by_name
                       else "/camera/depth/image_raw")
        for topic, kind in ((depth_topic, Image), ("/tsdf_node/surface", PointCloud2),
                            ("/detector_node/grasps", Grasp6DArray), ("/detector_node/markers", MarkerArray)):
            client.create_subscription(kind, topic, lambda m, t=topic: (recorder.write(t, m), latest.__setitem__(t, m)),
                                       10)
        with spinning_in_background(executor, nodes):
            if world is not None:
                from grasp6d_ros.detector_node import LATCHED
                client.create_publisher(PointCloud2, "/tsdf_node/surface", LATCHED).publish(
                    numpy_to_pointcloud2(scene_points, scene_normals, frame_id="world"))
                client.create_publisher(Image, depth_topic, LATCHED).publish(
                    metres_to_depth_image(scene_depth, frame_id="camera"))
            print("demo: waiting for the TSDF surface ...", flush=True)

            def surface_points() -> int:  # tsdf_node publishes an empty surface before its first frame
                surface = latest.get("/tsdf_node/surface")
                return 0 if surface is None else surface.width * surface.height
            while not surface_points() and time.monotonic() - start < timeout and (graph is None or graph.running()):
                time.sleep(0.1)
            if graph is not None and not graph.running():
                raise DemoError(f"demo: ros2 launch exited with code {graph.process.returncode} (see {graph.log})")
            if not surface_points():
                raise DemoError("demo: no TSDF surface arrived (camera_node -> tsdf_node)")
            detect = client.create_client(DetectGrasps, "/detect_grasps")
            request = DetectGrasps.Request(max_grasps=50, target_frame=target_frame)
            # the detector may get the surface a moment after this client saw it (its own DDS match)
            answer = call_until_ready(detect, request, timeout=max(timeout - (time.monotonic() - start), 1),
                                      attempt_timeout=30,
                                      ready=lambda answer: not answer.message.startswith(NO_CLOUD_YET))
            if not answer.success:
                raise DemoError(f"demo: /detect_grasps failed: {answer.message}")
            grasps = grasp_msgs_to_group(answer.grasps.grasps)
            print(ranked_table(grasps, answer.grasps.header.frame_id))
            print(f"detection: {len(grasps)} grasps in {answer.detection_time:.2f} s")
            points, _ = pointcloud2_to_numpy(latest["/tsdf_node/surface"])
            print(f"picture: {save_grasp_picture(points, grasps, out_dir / 'grasps.png', TOP_IN_PICTURE)}")
            # the same request as a Pick goal: executor_node detects and tries the ranked grasps itself
            goal = Pick.Goal(max_grasps=request.max_grasps, target_frame=request.target_frame)
            try:
                run = send_pick(client.pick, goal, timeout=120,
                                on_feedback=lambda feedback: print(feedback_line(feedback), flush=True))
            except TimeoutError as error:
                raise DemoError(f"demo: {error}") from error
            if run.result is None:
                raise DemoError("demo: /executor_node/pick refused the goal")
            outcome = run.result
            print(f"executed: success={outcome.success} stage={outcome.stage}: {outcome.message}")
            result = DemoResult(answer, outcome, detector, dict(recorder.counts), runner, feedback=run.feedback,
                                status=run.status)
        if graph is not None:
            result.launch_exit = graph.interrupt()
            print(f"demo: ros2 launch stopped with Ctrl-C, exit code {result.launch_exit}", flush=True)
            for name, code in graph.died().items():   # e.g. a node whose teardown hung past its limit
                print(f"demo: {name} exited with code {code} (its output is in {graph.log})", flush=True)
        return result
    finally:
        if graph is not None and graph.running():
            graph.interrupt()
        rclpy.try_shutdown(context=context)
        recorder.close()
        if "executor_node" in extra:
            extra["executor_node"]["backend"].close()
        print(f"recording: {recorder.path} ({sum(recorder.counts.values())} messages); "
              f"{time.monotonic() - start:.1f} s")


def run(out_dir: Path, timeout: float = 150.0, source: str = "playback", runner: str = "auto") -> int:
    """`make demo`: 0 = grasps found and the best one picked, 2 = the pick failed, 1 = the graph failed."""
    try:
        result = run_graph(out_dir, timeout, source, runner=runner)
    except (DemoError, TimeoutError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0 if result.outcome.success else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--source", choices=("playback", "sim"), default="playback",
                        help="playback: the shipped RealSense recording through camera_node + tsdf_node; "
                             "sim: a PyBullet scene with the model-free antipodal detector")
    parser.add_argument("--runner", choices=RUNNERS, default="auto",
                        help="how the playback graph starts: launch = `ros2 launch grasp6d_ros grasp_demo.launch.py`, "
                             "in-process = the same nodes in this process; auto = launch where it is installed")
    args = parser.parse_args(argv)
    try:
        return run(args.out, args.timeout, args.source, args.runner)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
