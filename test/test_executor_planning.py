"""Executor motion planning without ROS: hand frame, TCP offset, π symmetry, waypoints, ranked fallback."""
import numpy as np
import pytest

from grasp6d_core.execution import (STAGES, PlannerConfig, StageControl, StageResult, attempt_runner,
                                    choose_symmetric_variant, execute_ranked, hand_rotation, plan_grasp, plan_grasps,
                                    run_plan)
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation


def _top_down_pose(angle=0.0, point=(0.5, 0.0, 0.1)):
    pose = np.eye(4)
    pose[:3, :3] = grasp_rotation(np.array([0.0, 0.0, -1.0]), angle)
    pose[:3, 3] = point
    return pose


def test_hand_frame_z_is_approach_and_right_handed():
    rotations = grasp_rotation(np.random.default_rng(0).normal(size=(20, 3)), np.linspace(-3, 3, 20))
    hands = hand_rotation(rotations)
    np.testing.assert_allclose(hands[:, :, 2], rotations[:, :, 0], atol=1e-12)   # z = approach
    np.testing.assert_allclose(hands[:, :, 1], rotations[:, :, 1], atol=1e-12)   # y = closing
    np.testing.assert_allclose(np.linalg.det(hands), 1.0, atol=1e-9)


def test_tcp_offset_puts_fingertips_at_grasp_depth():
    config = PlannerConfig(tcp_offset=0.1034, pregrasp_distance=0.08, lift_height=0.1, retreat_distance=0.05)
    plan = plan_grasp(_top_down_pose(), width=0.05, depth=0.02, config=config)
    approach = plan.poses["approach"]
    # flange 0.1034 above the fingertips, fingertips 0.02 below the grasp point (approach = down)
    np.testing.assert_allclose(approach[:3, 3], [0.5, 0.0, 0.1 - 0.02 + 0.1034], atol=1e-9)
    np.testing.assert_allclose(plan.poses["pregrasp"][:3, 3], approach[:3, 3] + [0, 0, 0.08], atol=1e-9)
    np.testing.assert_allclose(plan.poses["lift"][:3, 3], approach[:3, 3] + [0, 0, 0.10], atol=1e-9)
    np.testing.assert_allclose(plan.poses["retreat"][:3, 3], plan.poses["lift"][:3, 3] + [0, 0, 0.05], atol=1e-9)
    # top-down grasp: hand z points down as in the Panda ready pose
    np.testing.assert_allclose(approach[:3, 2], [0, 0, -1], atol=1e-9)


def test_pi_symmetric_variant_keeps_wrist_near_reference():
    reference = np.diag([1.0, -1.0, -1.0])
    for angle in np.linspace(-np.pi, np.pi, 25):
        rotation = grasp_rotation(np.array([0.0, 0.0, -1.0]), angle)
        chosen, flipped, wrist = choose_symmetric_variant(rotation, reference)
        assert wrist <= np.pi / 2 + 1e-9                          # never more than a quarter turn of the wrist
        np.testing.assert_allclose(chosen[:, 0], rotation[:, 0])  # same approach
        assert np.allclose(chosen, rotation) != flipped


def test_flipped_twin_plans_same_positions():
    config = PlannerConfig()
    a = plan_grasp(_top_down_pose(0.3), 0.04, 0.02, config)
    b = plan_grasp(_top_down_pose(0.3 + np.pi), 0.04, 0.02, config)
    for stage in a.poses:
        np.testing.assert_allclose(a.poses[stage], b.poses[stage], atol=1e-9)
    assert a.flipped != b.flipped


def test_plan_grasps_ranks_and_rejects_from_below():
    approaches = np.array([[0, 0, -1.0], [0, 0, 1.0], [1.0, 0, -1.0]])
    group = GraspGroup.from_components(scores=[0.2, 0.9, 0.5], widths=[0.03] * 3, depths=[0.02] * 3,
                                       rotations=grasp_rotation(approaches, 0.0),
                                       translations=np.zeros((3, 3)))
    plans, rejected = plan_grasps(group, PlannerConfig(max_approach_tilt_deg=60))
    assert [p.rank for p in plans] == [1, 2]            # ranks in score order: 0.9 (below) rejected
    assert rejected[0][0] == 0 and "tilted 180" in rejected[0][1]
    assert plans[0].score == pytest.approx(0.5)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="pregrasp_distance"):
        PlannerConfig(pregrasp_distance=-0.1).validate()


class LoggingBackend:
    """An ExecutorBackend that logs each step and fails at ``fail_at``."""

    def __init__(self, fail_at=None):
        self.log, self.fail_at = [], fail_at

    def move(self, stage, pose):
        self.log.append(stage)
        return (stage != self.fail_at, "no IK solution" if stage == self.fail_at else "ok")

    def grip(self, stage, width):
        self.log.append(f"grip:{stage}:{width:.2f}")
        return (stage != self.fail_at, "nothing between the fingers" if stage == self.fail_at else "ok")


def test_run_plan_stage_order_and_failure_stage():
    plan = plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig())
    backend = LoggingBackend()
    result = run_plan(plan, backend.move, backend.grip, open_width=0.07)
    assert result.success and result.stage == "retreat"
    assert backend.log == ["grip:pregrasp:0.07", "pregrasp", "approach", "grip:close:0.00", "lift", "retreat"]
    backend = LoggingBackend(fail_at="close")
    result = run_plan(plan, backend.move, backend.grip)
    assert not result.success and result.stage == "close" and "nothing between" in result.message
    assert backend.log[0] == "grip:pregrasp:0.08" and backend.log[-1] == "grip:close:0.00"  # the Panda opens 8 cm


def test_run_plan_turns_backend_exception_into_failure():
    plan = plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig())

    class DyingArm(LoggingBackend):
        def move(self, stage, pose):
            raise RuntimeError("controller died")
    arm = DyingArm()
    result = run_plan(plan, arm.move, arm.grip)
    assert not result.success and result.stage == "pregrasp" and "controller died" in result.message


def test_attempt_runner_uses_the_backends_attempt_hook_only_when_it_has_one():
    plan = plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig())
    plain = LoggingBackend()
    assert attempt_runner(plain, 0.06)(plan).success
    assert plain.log == ["grip:pregrasp:0.06", "pregrasp", "approach", "grip:close:0.00", "lift", "retreat"]

    class WrappingArm(LoggingBackend):   # set-up / clean-up around the one sequence, as MoveIt's planning scene
        def execute_plan(self, plan, control):
            self.log.append("set-up")
            result = run_plan(plan, self.move, self.grip, 0.07, control)
            self.log.append("clean-up")
            return result
    wrapping = WrappingArm()
    assert attempt_runner(wrapping, 0.06)(plan).success
    assert wrapping.log == ["set-up", "grip:pregrasp:0.07", "pregrasp", "approach", "grip:close:0.00", "lift",
                            "retreat", "clean-up"]


def test_execute_ranked_falls_back_only_on_safe_stages():
    plans = [plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig(), rank=r) for r in range(4)]
    outcomes = {0: StageResult(False, "approach", "approach failed: no plan"),
                1: StageResult(False, "pregrasp", "pregrasp failed: no IK"),
                2: StageResult(True, "retreat", "ok")}
    outcome = execute_ranked(plans, lambda p: outcomes[p.rank], max_attempts=5)
    assert outcome.success and outcome.executed_rank == 2 and len(outcome.attempts) == 3
    # a failure after the fingers closed stops the fallback
    outcome = execute_ranked(plans, lambda p: StageResult(False, "lift", "lift failed: dropped"), max_attempts=5)
    assert not outcome.success and outcome.stage == "lift" and len(outcome.attempts) == 1
    outcome = execute_ranked(plans, lambda p: StageResult(False, "approach", "x"), max_attempts=2)
    assert len(outcome.attempts) == 2 and "tried #1 at approach, #2 at approach" in outcome.message
    assert not execute_ranked([], lambda p: None).success
    # a cancelled approach is not a failed approach: the next grasp is not tried
    outcome = execute_ranked(plans, lambda p: StageResult(False, "approach", "cancelled", cancelled=True), max_attempts=3)
    assert not outcome.success and outcome.stage == "approach" and len(outcome.attempts) == 1


def test_stage_control_hears_each_stage_once_and_stops_only_between_steps():
    plan = plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig())
    heard = []
    backend = LoggingBackend()
    assert run_plan(plan, backend.move, backend.grip, control=StageControl(on_stage=heard.append)).success
    assert heard == list(STAGES)         # the open grip and the pre-grasp move are one stage
    for stop_after in ("pregrasp", "approach", "close"):
        heard, backend = [], LoggingBackend()
        control = StageControl(on_stage=heard.append, stop_requested=lambda: bool(heard) and heard[-1] == stop_after
                               and backend.log[-1] in (stop_after, f"grip:{stop_after}:0.00"))
        result = run_plan(plan, backend.move, backend.grip, control=control)
        # the step under way finished; nothing after it started
        assert result.cancelled and not result.success and result.stage == stop_after, result
        assert result.message == f"cancelled after {stop_after}" and heard[-1] == stop_after
    result = run_plan(plan, backend.move, backend.grip, control=StageControl(stop_requested=lambda: True))
    assert result.cancelled and result.stage == "none" and result.message == "cancelled before the first stage"


def test_execute_ranked_announces_attempts_and_stops_between_them():
    plans = [plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig(), rank=r) for r in range(3)]
    announced, stop = [], []
    control = StageControl(on_attempt=lambda number, plan: announced.append((number, plan.rank)),
                           stop_requested=lambda: bool(stop))

    def fail_then_ask_to_stop(plan):
        stop.append(True)        # a cancel that arrives while attempt 1 fails at its approach
        return StageResult(False, "approach", "approach failed: no plan")
    outcome = execute_ranked(plans, fail_then_ask_to_stop, max_attempts=3, control=control)
    assert announced == [(1, 0)] and len(outcome.attempts) == 1
    assert outcome.cancelled and not outcome.success and outcome.stage == "approach"
    assert outcome.message.startswith("cancelled before the next grasp; grasp #1: approach failed")


def test_a_parkable_backend_is_parked_after_a_cancelled_attempt_only():
    plan = plan_grasp(_top_down_pose(), 0.05, 0.02, PlannerConfig())

    class ParkingArm(LoggingBackend):
        def park(self):
            self.log.append("park")
    arm = ParkingArm()
    assert attempt_runner(arm, 0.06)(plan).success and "park" not in arm.log
    stops = iter([False, False, False, True])        # after the open grip, the pre-grasp and the approach
    result = attempt_runner(arm, 0.06, StageControl(stop_requested=lambda: next(stops)))(plan)
    assert result.cancelled and result.stage == "approach"
    assert arm.log[-3:] == ["pregrasp", "approach", "park"]
