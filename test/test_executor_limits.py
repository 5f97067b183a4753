"""Grasps the hand or arm cannot take are refused before any motion, with the field and the limit named.

Unit tests of grasp6d_core.execution.limits, and executor_node (sim backend: the PyBullet Franka hand) answering an
outside client over Fast DDS.
"""
import math

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_core.execution import PANDA_MAX_REACH, GraspLimits, grasp_limit_violations
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.conversions import grasp_group_to_msg
from grasp6d_ros.executor_node import ExecutorNode
from ros_helpers import call_service, spinning

LIMITS = GraspLimits(max_width=0.08, max_depth=0.04, max_reach=0.96)


def _violations(group: GraspGroup, widths=None) -> list:
    return grasp_limit_violations(group.widths if widths is None else widths, group.depths, group.translations, LIMITS)


def _grasp(width=0.05, depth=0.02, position=(0.4, 0.0, 0.05)) -> GraspGroup:
    return GraspGroup.from_components(scores=[0.9], widths=[width], depths=[depth],
                                      rotations=grasp_rotation(np.array([[0, 0, -1.0]]), [0.0]),
                                      translations=[position])


@pytest.mark.parametrize("width", [-0.05, 0.0, 0.081, 1.0, math.nan, math.inf])
def test_width_outside_the_opening_is_named(width):
    (reason,) = _violations(_grasp(), widths=[width])
    assert reason is not None and reason.startswith("width=") and "(0, 0.08] m" in reason


@pytest.mark.parametrize("depth", [-0.01, 0.05, math.nan])
def test_depth_outside_the_fingers_reach_is_named(depth):
    (reason,) = _violations(_grasp(depth=depth))
    assert reason is not None and reason.startswith("depth=") and "[0, 0.04] m" in reason


@pytest.mark.parametrize("position", [(100.0, 0.0, 0.0), (0.0, 0.0, -0.97), (math.nan, 0.0, 0.0)])
def test_position_beyond_reach_is_named(position):
    (reason,) = _violations(_grasp(position=position))
    assert reason is not None and "max_reach=0.96 m" in reason


def test_grasps_within_limits_pass_and_each_grasp_gets_its_own_answer():
    group = GraspGroup.concatenate([_grasp(), _grasp(depth=0.04), _grasp(), _grasp(position=(0.0, 0.95, 0.0)),
                                    _grasp(depth=0.0)])
    reasons = _violations(group, widths=[0.05, 0.08, 0.2, 0.05, 0.05])
    assert reasons[0] is None and reasons[1] is None and reasons[3] is None and reasons[4] is None
    assert reasons[2].startswith("width=0.2 m")   # as requested, not GraspGroup's clamped 0.10
    assert _violations(GraspGroup()) == []
    with pytest.raises(ValueError, match="differ in number"):
        grasp_limit_violations([0.05], [0.02, 0.02], np.zeros((1, 3)), LIMITS)


def test_impossible_limits_are_refused():
    for bad in ({"max_width": 0.0, "max_depth": 0.04}, {"max_width": 0.08, "max_depth": -0.01},
                {"max_width": math.nan, "max_depth": 0.04}, {"max_width": 0.08, "max_depth": 0.04, "max_reach": 0}):
        with pytest.raises(ValueError, match="grasp limits"):
            GraspLimits(**bad)


class SpyingSimBackend:
    """The real sim backend (PyBullet Franka hand); records every step it is asked to take."""

    def __init__(self):
        from grasp6d_core.sim.world import ClutterWorld
        from grasp6d_ros.sim_backend import SimBackend
        world = ClutterWorld(seed=0)
        world.add_object("cube_small.urdf", [0.0, 0.0, 0.025])
        world.settle(120)
        self.backend, self.steps = SimBackend(world=world), []

    def move(self, stage, pose):
        self.steps.append((stage, pose))
        return self.backend.move(stage, pose)

    def grip(self, stage, width):
        self.steps.append((f"grip:{stage}", width))
        return self.backend.grip(stage, width)

    def attempts(self) -> int:
        return sum(stage == "pregrasp" for stage, _ in self.steps)


def _request(width=0.07, depth=0.02, position=(0.0, 0.0, 0.035), orientation=None, frame="panda_link0"):
    from grasp6d_ros.srv import ExecuteGrasp
    grasp = grasp_group_to_msg(_grasp(position=position), frame).grasps[0]
    grasp.width, grasp.depth = width, depth   # as a client sends them (a GraspGroup would clamp the width)
    if orientation is not None:
        grasp.pose.orientation.x, grasp.pose.orientation.y, grasp.pose.orientation.z, grasp.pose.orientation.w = \
            orientation
    request = ExecuteGrasp.Request(grasp=grasp)
    request.header.frame_id = frame
    return request


def test_executor_refuses_impossible_grasps_before_any_motion_over_dds():
    from grasp6d_ros.srv import ExecuteGrasp
    spy = SpyingSimBackend()
    impossible = {
        "width=-0.05 m": _request(width=-0.05), "width=0 m": _request(width=0.0), "width=1 m": _request(width=1.0),
        "width=nan m": _request(width=math.nan), "depth=nan m": _request(depth=math.nan),
        "depth=0.1 m": _request(depth=0.1), "100 m from the base origin": _request(position=(100.0, 0.0, 0.0)),
        "orientation has a non-finite": _request(orientation=(math.nan, 0.0, 0.0, 1.0)),
        "not a unit quaternion (norm 2": _request(orientation=(0.0, 0.0, 0.0, 2.0)),
    }
    node = lambda ctx: ExecutorNode(backend=spy, context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("backend", value="sim")])
    try:
        with spinning(node, lambda ctx: Node("outside_client", context=ctx)) as (_, client_node):
            client = client_node.create_client(ExecuteGrasp, "/executor_node/execute")
            answers = {name: call_service(client, request, timeout=20) for name, request in impossible.items()}
            assert spy.steps == []          # nothing reached the hand
            possible = call_service(client, _request(), timeout=30)
    finally:
        spy.backend.close()
    for name, answer in answers.items():
        assert not answer.success and answer.stage == "none", (name, answer)
        assert name in answer.message, (name, answer.message)
    for name in ("width=1 m", "depth=0.1 m"):
        assert "refused, nothing moved" in answers[name].message
    assert "(0, 0.08] m" in answers["width=1 m"].message and "[0, 0.04] m" in answers["depth=0.1 m"].message
    assert f"max_reach={PANDA_MAX_REACH:g} m" in answers["100 m from the base origin"].message
    assert possible.success and possible.stage == "retreat" and spy.attempts() == 1


def test_a_ranked_list_skips_impossible_grasps_and_executes_the_next():
    """From the latest ~/grasps, grasps outside the limits are skipped (logged), the rest tried best first."""
    import rclpy
    from rclpy.context import Context

    from grasp6d_ros.msg import Grasp6DArray
    from grasp6d_ros.srv import ExecuteGrasp
    spy = SpyingSimBackend()
    context = Context()
    rclpy.init(context=context)
    node = ExecutorNode(backend=spy, context=context, parameter_overrides=[Parameter("backend", value="sim")])
    try:
        too_wide, good = _request(width=1.0).grasp, _request().grasp
        too_wide.score, good.score = 0.9, 0.5
        array = Grasp6DArray(grasps=[too_wide, good])
        array.header.frame_id = "panda_link0"
        node._on_grasps(array)
        mixed = node._on_execute(ExecuteGrasp.Request(), ExecuteGrasp.Response())
        node._on_grasps(Grasp6DArray(header=array.header, grasps=[too_wide, _request(depth=math.nan).grasp]))
        impossible = node._on_execute(ExecuteGrasp.Request(), ExecuteGrasp.Response())
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
        spy.backend.close()
    assert mixed.success and spy.attempts() == 1
    assert spy.steps[0] == ("grip:pregrasp", pytest.approx(0.08))   # opened for the 7 cm grasp, not the 1 m one
    assert not impossible.success and impossible.stage == "none" and spy.attempts() == 1
    assert impossible.message.startswith("all 2 grasps refused, nothing moved; the first: width=1 m")
