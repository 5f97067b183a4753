"""The commands a user types, end to end: `ros2 launch grasp6d_ros grasp_demo.launch.py`, `ros2 node list`,
`ros2 service call`, `ros2 topic echo`, `ros2 param set/get`, `ros2 lifecycle get/set` and Ctrl-C, against the real nodes over Fast DDS.

They need the ROS 2 launch and command-line packages (launch, launch_ros, ros2cli, composition_interfaces). A ROS 2
install has them; here `make setup` installs them from ../shared/ros_python when that folder exists, and so does
this module when they are missing. Without either the tests skip and say why. The playback commands are the
README's "Try it without hardware" block, run as printed except that `--no-daemon` is added where the verb takes
it (no ros2 daemon may outlive the tests). One launch per class is shared by its tests, in order.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from grasp6d_ros.launch_process import (LaunchedGraph, died_processes, launch_unavailable_reason, node_environment,
                                        ros2_command)

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[1]
SHARED_ROS_PYTHON = ROOT.parent / "shared" / "ros_python"

# The README's "Try it without hardware", in its order.
LAUNCH = "ros2 launch grasp6d_ros grasp_demo.launch.py camera:=playback executor:=sim rviz:=false"
NODES = "ros2 node list"
DETECT = 'ros2 service call /detect_grasps grasp6d_ros/srv/DetectGrasps "{max_grasps: 10}"'
ECHO = "ros2 topic echo --once /detector_node/grasps"
EXECUTE = 'ros2 service call /executor_node/execute grasp6d_ros/srv/ExecuteGrasp "{}"'
PARAM = "ros2 param set /detector_node min_score 0.2"
README_COMMANDS = [LAUNCH, NODES, DETECT, ECHO, EXECUTE, PARAM]
# Verbs that take --no-daemon (ros2 service call never uses the daemon). Without the daemon's graph cache
# they discover the graph themselves, 0.5 s by default: too short on a busy 2-core machine ("Node not found").
DAEMON_VERBS = {("node", "list"), ("topic", "echo"), ("param", "set"), ("param", "get"), ("lifecycle", "get"),
                ("lifecycle", "set")}
# The README's lifecycle commands (The ROS 2 application, "Lifecycle"), in its order.
LIFECYCLE_GET = "ros2 lifecycle get /detector_node"
LIFECYCLE_SET = "ros2 lifecycle set /detector_node {}"
LIFECYCLE_STEPS = ("deactivate", "cleanup", "configure", "activate")
README_LIFECYCLE = [LIFECYCLE_GET] + [LIFECYCLE_SET.format(step) for step in LIFECYCLE_STEPS]
NO_DAEMON = ["--no-daemon", "--spin-time", "3"]
DISCOVERY_MISSES = ("Node not found", "Could not determine the type", "does not appear to be published yet")
STAGES = {"pregrasp", "approach", "close", "lift", "retreat"}
FIRST_GRASP_TIMEOUT = 120.0   # s; what a fresh launch takes is printed (time to first grasp)


@pytest.fixture(scope="module")
def ros2_env() -> dict[str, str]:
    """The environment the typed commands run in; installs the shared packages first when they are missing."""
    reason = launch_unavailable_reason()
    if reason is None:
        return node_environment()
    if not SHARED_ROS_PYTHON.is_dir():
        pytest.skip(f"`ros2 launch` cannot run here ({reason}) and {SHARED_ROS_PYTHON}, which provides the ROS 2 "
                    "launch/ros2cli packages, is absent")
    setup = subprocess.run(["bash", str(ROOT / "tools" / "setup.sh")], capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    sourced = subprocess.run(["bash", "-c", "source install/setup.bash && env -0"], cwd=ROOT, env=node_environment(),
                             capture_output=True, check=True).stdout.decode()
    return dict(item.split("=", 1) for item in sourced.split("\0") if "=" in item)


def typed(command: str, env: dict[str, str], timeout: float = 60.0, attempts: int = 3,
          retype_when_hung: bool = True) -> subprocess.CompletedProcess:
    """Run a `ros2 ...` command line as typed (plus --no-daemon where the verb takes it); a run that missed
    the graph (discovery still under way) is repeated, as a user would.

    `ros2 service call` and `ros2 lifecycle set` wait for the reply with no time limit, so a reply DDS lost hangs
    them; a command that may be repeated (``retype_when_hung``) is typed again after ``timeout``, as a user does
    after Ctrl-C. The last attempt's hang raises subprocess.TimeoutExpired."""
    args = shlex.split(command)
    assert args[0] == "ros2", command
    args[0] = ros2_command()
    if tuple(args[1:3]) in DAEMON_VERBS:
        args[3:3] = NO_DAEMON
    for attempt in range(attempts):
        try:
            run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            if not retype_when_hung or attempt == attempts - 1:
                raise
            print(f"`{command}` gave no answer in {timeout:.0f} s; typed again")
            continue
        if not any(miss in run.stdout + run.stderr for miss in DISCOVERY_MISSES):
            break
    return run


@dataclass
class Answer:
    """A /detect_grasps or /executor_node/execute response as `ros2 service call` prints it."""
    success: bool
    message: str
    scores: list[float]
    stage: str = ""


def parse_response(stdout: str) -> Answer:
    assert "response:" in stdout, stdout[-2000:]
    response = stdout.split("response:", 1)[1]          # the request echo above has its own score fields
    head = re.search(r"_Response\(success=(True|False), (?:stage='(\w*)', )?message=(['\"])(.*?)\3", response, re.S)
    assert head, response[:2000]
    return Answer(head.group(1) == "True", head.group(4), [float(s) for s in re.findall(r"\bscore=([-+0-9.e]+)", response)],
                  head.group(2) or "")


def detect(command: str, env: dict[str, str]) -> Answer:
    return parse_response(typed(command, env).stdout)


def first_grasps(graph: LaunchedGraph, command: str, env: dict[str, str]) -> tuple[Answer, float]:
    """Call until the graph answers with grasps (it needs a TSDF surface first); the answer and seconds since
    the launch started."""
    answer = None
    while graph.elapsed < FIRST_GRASP_TIMEOUT and graph.running():
        answer = detect(command, env)
        if answer.success and answer.scores:
            print(f"time to first grasp after `ros2 launch`: {graph.elapsed:.1f} s")
            return answer, graph.elapsed
    raise AssertionError(f"no grasps {graph.elapsed:.0f} s after the launch (last answer: {answer});\n"
                         f"{graph.output()[-3000:]}")


def echoed_grasps(env: dict[str, str]) -> list[dict]:
    """`ros2 topic echo --once /detector_node/grasps` (latched: the last answer's grasps), parsed as YAML."""
    run = typed(ECHO, env, timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
    message = yaml.safe_load(run.stdout.split("\n---")[0])
    return message["grasps"]


def lifecycle_set(step: str, reached: str, env: dict[str, str], graph: LaunchedGraph, timeout: float = 90.0) -> None:
    """`ros2 lifecycle set /detector_node STEP`, then assert the node is in state ``reached``.

    The verb waits for the change_state answer with no time limit; if no answer comes within ``timeout`` (a lost
    DDS reply or request on a loaded machine), do what a user does after Ctrl-C: `ros2 lifecycle get` until the
    node shows it made the transition, and when it never started (the request was lost: the node's log shows no
    transition), type the step once more. The node must get there either way; what was lost is printed."""
    for attempt in range(2):
        try:
            run = typed(LIFECYCLE_SET.format(step), env, timeout=timeout, retype_when_hung=False)
        except subprocess.TimeoutExpired:
            print(f"`ros2 lifecycle set /detector_node {step}` gave no answer in {timeout:.0f} s; checking the state")
            state = ""
            for _ in range(10):
                state = typed(LIFECYCLE_GET, env).stdout.strip()
                if state == reached:
                    return
            if attempt == 0:
                print(f"the node is still {state}: the request was lost; typed again")
                continue
            assert state == reached, (step, state, graph.output()[-3000:])
        break
    assert "Transitioning successful" in run.stdout, (step, run.stdout + run.stderr, graph.output()[-3000:])
    assert typed(LIFECYCLE_GET, env).stdout.strip() == reached, (step, graph.output()[-3000:])


def listed_nodes(graph: LaunchedGraph, nodes: set[str], env: dict[str, str], timeout: float = 60.0) -> set[str]:
    """`ros2 node list` until it shows ``nodes`` (they start in parallel, importing torch / Open3D takes seconds)
    or ``timeout`` seconds after the launch; the last listing."""
    listed: set[str] = set()
    while graph.elapsed < timeout and not {f"/{n}" for n in nodes} <= listed:
        listed = set(typed(NODES, env).stdout.split())
    return listed


def assert_stops_cleanly(graph: LaunchedGraph, nodes: set[str]) -> None:
    """Ctrl-C: ros2 launch exits 0, every node 'finished cleanly', nothing died, no traceback."""
    code = graph.interrupt()
    output = graph.output()
    finished = set(re.findall(r"\[INFO\] \[(\w+)-\d+\]: process has finished cleanly", output))
    assert code == 0 and finished == nodes, (code, finished, output[-4000:])
    assert "Traceback" not in output and "process has died" not in output, output[-4000:]


def readme_commands(after: str) -> list[str]:
    """The `ros2 ...` lines (comments cut) of the README's first bash block after ``after``."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(after):], re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("ros2 ")]


def test_readme_try_it_block_is_what_these_tests_type():
    assert readme_commands("## Try it without hardware") == README_COMMANDS


def test_readme_lifecycle_block_is_what_these_tests_type():
    assert readme_commands("**Lifecycle**") == README_LIFECYCLE


class TestPlaybackDemo:
    """README: camera:=playback executor:=sim rviz:=false, the shipped recording looping through camera_node."""

    NODES = {"camera_node", "tsdf_node", "detector_node", "executor_node"}

    @pytest.fixture(scope="class")
    def graph(self, ros2_env, tmp_path_factory):
        with LaunchedGraph(shlex.split(LAUNCH)[4:], tmp_path_factory.mktemp("playback") / "launch.log",
                           env=ros2_env) as graph:
            yield graph

    def test_node_list_shows_the_four_nodes(self, graph, ros2_env):
        listed = listed_nodes(graph, self.NODES, ros2_env)
        assert {f"/{n}" for n in self.NODES} <= listed, (listed, graph.output()[-3000:])

    def test_service_call_answers_with_ranked_grasps(self, graph, ros2_env):
        answer, _ = first_grasps(graph, DETECT, ros2_env)
        # "N grasps in 'world'", then what the workspace crop dropped (the demo crops to the table's box)
        assert re.fullmatch(r"\d+ grasps in 'world'(; dropped \d+ .* of \d+ points)?", answer.message), answer
        assert 1 <= len(answer.scores) <= 10, answer
        assert answer.scores == sorted(answer.scores, reverse=True)

    def test_topic_echo_once_gives_the_latched_grasps(self, graph, ros2_env):
        grasps = echoed_grasps(ros2_env)
        assert len(grasps) >= 1 and {"pose", "width", "depth", "score"} <= set(grasps[0])
        scores = [g["score"] for g in grasps]
        assert scores == sorted(scores, reverse=True) and 0.0 < grasps[0]["width"] <= 0.1

    def test_execute_runs_a_detected_grasp_in_the_sim(self, graph, ros2_env):
        answer = parse_response(typed(EXECUTE, ros2_env, timeout=120, retype_when_hung=False).stdout)
        # the executor got /detector_node/grasps through the launch's remap and ran one in PyBullet
        assert answer.stage in STAGES and re.match(r"grasp #\d+: ", answer.message), answer
        print(f"executed: success={answer.success} stage={answer.stage}: {answer.message}")

    def test_param_set_min_score_takes_effect_on_the_next_call(self, graph, ros2_env):
        before = detect(DETECT, ros2_env)
        assert before.success and before.scores, before
        cuts = [0.2]   # the README's value; when it filters nothing here, also one that must
        if min(before.scores) >= 0.2:
            cuts.append((before.scores[0] + before.scores[-1]) / 2 if len(set(before.scores)) > 1
                        else before.scores[0] + 0.01)
        for cut in cuts:
            run = typed(PARAM if cut == 0.2 else f"ros2 param set /detector_node min_score {cut}", ros2_env)
            assert "Set parameter successful" in run.stdout, run.stdout + run.stderr
            after = detect(DETECT, ros2_env)
            assert after.success and all(score >= cut for score in after.scores), (cut, before, after)

    def test_lifecycle_commands_of_the_readme(self, graph, ros2_env):
        # autostart brought both managed nodes to active by themselves
        run = typed("ros2 lifecycle get /tsdf_node", ros2_env)
        assert run.stdout.strip() == "active [3]", run.stdout + run.stderr
        assert typed(LIFECYCLE_GET, ros2_env).stdout.strip() == "active [3]"
        refusals = {"deactivate": "node is inactive (", "cleanup": "node is unconfigured (",
                    "configure": "node is inactive (", "activate": None}
        reached = {"deactivate": "inactive [2]", "cleanup": "unconfigured [1]", "configure": "inactive [2]",
                   "activate": "active [3]"}
        for step in LIFECYCLE_STEPS:
            lifecycle_set(step, reached[step], ros2_env, graph)
            answer = detect(DETECT, ros2_env)
            if refusals[step]:
                assert not answer.success and answer.message.startswith(refusals[step]), (step, answer)
            else:
                assert answer.success and answer.scores, answer   # served again, the model loaded anew
        assert typed(LIFECYCLE_GET, ros2_env).stdout.strip() == "active [3]"

    def test_ctrl_c_stops_every_node_cleanly(self, graph):
        assert_stops_cleanly(graph, self.NODES)


class TestAutostartFalse:
    """autostart:=false: tsdf_node and detector_node wait unconfigured for the user's lifecycle manager."""

    NODES = {"tsdf_node", "detector_node"}

    @pytest.fixture(scope="class")
    def graph(self, ros2_env, tmp_path_factory):
        arguments = ["camera:=none", "executor:=none", "rviz:=false", "autostart:=false"]
        with LaunchedGraph(arguments, tmp_path_factory.mktemp("manual") / "launch.log", env=ros2_env) as graph:
            yield graph

    def test_nodes_wait_unconfigured_until_configured_by_hand(self, graph, ros2_env):
        listed = listed_nodes(graph, self.NODES, ros2_env)
        assert {f"/{n}" for n in self.NODES} <= listed, (listed, graph.output()[-3000:])
        for node in self.NODES:
            run = typed(f"ros2 lifecycle get /{node}", ros2_env)
            assert run.stdout.strip() == "unconfigured [1]", (node, run.stdout + run.stderr, graph.output()[-3000:])
        answer = detect(DETECT, ros2_env)
        assert not answer.success and answer.message.startswith("node is unconfigured ("), answer
        lifecycle_set("configure", "inactive [2]", ros2_env, graph)

    def test_ctrl_c_stops_every_node_cleanly(self, graph):
        assert_stops_cleanly(graph, self.NODES)


class TestOwnDriverWithParamsFile:
    """camera:=none with depth_topic/info_topic fed by a test publisher (a driver of your own), a params_file,
    and rviz:=true on a machine without rviz2."""

    NODES = {"tsdf_node", "detector_node"}
    DEPTH, INFO = "/test_driver/depth/image_rect_raw", "/test_driver/depth/camera_info"
    TOP_K = 4   # set by the params file (config/detector.yaml says 50)

    @pytest.fixture(scope="class")
    def graph(self, ros2_env, tmp_path_factory):
        from ros_helpers import spinning
        folder = tmp_path_factory.mktemp("driver")
        # the recording's camera pose and crop, as the playback choice sets them, plus one value of ours
        overrides = yaml.safe_load((ROOT / "config" / "grasp_demo.yaml").read_text())["cameras"]["playback"]["overrides"]
        params = folder / "my_grasp6d.yaml"
        params.write_text(yaml.safe_dump({
            "tsdf_node": {"ros__parameters": overrides["tsdf_node"]},
            "detector_node": {"ros__parameters": {**overrides["detector_node"], "top_k": self.TOP_K}}}))
        arguments = ["camera:=none", f"depth_topic:={self.DEPTH}", f"info_topic:={self.INFO}",
                     f"params_file:={params}", "executor:=none", "rviz:=true"]
        with ExitStack() as stack:
            stack.enter_context(spinning(lambda context: recording_driver(context, self.DEPTH, self.INFO)))
            yield stack.enter_context(LaunchedGraph(arguments, folder / "launch.log", env=ros2_env))

    def test_rviz_missing_is_said_in_one_line(self, graph, ros2_env):
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
        try:
            get_package_prefix("rviz2")
            pytest.skip("rviz2 is installed here")
        except PackageNotFoundError:
            pass
        listed = listed_nodes(graph, self.NODES, ros2_env)
        assert {f"/{n}" for n in self.NODES} <= listed and "/rviz2" not in listed, listed
        lines = [line for line in graph.output().splitlines() if "rviz2" in line]
        assert len(lines) == 1 and "rviz2 is not installed" in lines[0], lines

    def test_service_call_gets_grasps_from_the_driver_topics(self, graph, ros2_env):
        answer, _ = first_grasps(graph, "ros2 service call /detect_grasps grasp6d_ros/srv/DetectGrasps '{}'",
                                 ros2_env)
        # max_grasps 0 = the node's top_k, which only the params file sets to 4
        assert 1 <= len(answer.scores) <= self.TOP_K and answer.scores == sorted(answer.scores, reverse=True), answer

    def test_params_file_values_are_the_nodes_parameters(self, graph, ros2_env):
        run = typed("ros2 param get /detector_node top_k", ros2_env)
        assert run.stdout.strip() == f"Integer value is: {self.TOP_K}", run.stdout + run.stderr

    def test_topic_echo_once_gives_the_latched_grasps(self, graph, ros2_env):
        assert 1 <= len(echoed_grasps(ros2_env)) <= self.TOP_K

    def test_ctrl_c_stops_every_node_cleanly(self, graph):
        assert_stops_cleanly(graph, self.NODES)


def recording_driver(context, depth_topic: str, info_topic: str):
    """A stand-in for a vendor driver: the shipped recording's frames on our own topics at 5 Hz."""
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image

    from grasp6d_core.sensing import open_source
    from grasp6d_ros.conversions import intrinsics_to_camera_info, metres_to_depth_image
    with open_source("playback", path=str(ROOT / "config" / "demo" / "clutter_table.db3")) as source:
        frames = list(source)
    node = Node("test_depth_driver", context=context)
    image_pub, info_pub = node.create_publisher(Image, depth_topic, 5), node.create_publisher(CameraInfo, info_topic, 5)
    count = iter(range(10 ** 9))

    def publish() -> None:
        frame, stamp = frames[next(count) % len(frames)], node.get_clock().now().to_msg()
        image_pub.publish(metres_to_depth_image(frame.depth, "16UC1", "camera_depth_optical_frame", stamp))
        info_pub.publish(intrinsics_to_camera_info(frame.intrinsics, "camera_depth_optical_frame", stamp))
    node.create_timer(0.2, publish)
    return node


def test_make_demo_runs_the_graph_through_ros2_launch(ros2_env, tmp_path):
    """`make demo`'s command: with launch installed it starts the README's launch, detects, draws, picks once
    through the Pick action, and stops the launch with Ctrl-C (exit 0 = picked, 2 = the pick failed; both ran the
    whole graph)."""
    import sys
    run = subprocess.run([sys.executable, "-m", "grasp6d_ros.demo", "--out", str(tmp_path)], env=ros2_env,
                         capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    out = run.stdout
    assert f"started `{LAUNCH}`" in out, out + run.stderr
    assert run.returncode in (0, 2) and re.search(r"executed: success=(True|False) stage=(\w+)", out), out + run.stderr
    # picked through the Pick action of the launched executor_node: its feedback lines, then the result
    assert "pick: stage=detect" in out and re.search(r"pick: stage=pregrasp attempt=1 grasp score=[\d.]+", out), out
    assert "ros2 launch stopped with Ctrl-C, exit code 0" in out and "   1 " in out, out
    assert (tmp_path / "grasps.png").stat().st_size > 10_000 and (tmp_path / "run.mcap").stat().st_size > 10_000
    log = (tmp_path / "launch.log").read_text()
    assert "Traceback" not in log
    # a node that exited badly (one whose teardown hung prints its stacks and exits 1) is said, not hidden
    for name, code in died_processes(log).items():
        assert f"demo: {name} exited with code {code}" in out, out
