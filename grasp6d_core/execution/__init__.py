"""Turning detected grasps into robot motions: the limits a grasp must meet before any motion, end-effector
waypoints and a ranked-fallback sequencer.

Pure numpy; the ROS executor node and its backends (:class:`ExecutorBackend`: MoveIt, simulated hand) only move
to these poses, one stage at a time, in the order :func:`run_plan` gives.
"""
from grasp6d_core.execution.limits import PANDA_MAX_REACH, GraspLimits, grasp_limit_violations
from grasp6d_core.execution.planning import (GraspPlan, PlannerConfig, hand_rotation, plan_grasp, plan_grasps,
                                             choose_symmetric_variant)
from grasp6d_core.execution.sequencer import (NO_CONTROL, NO_STAGE, STAGES, Attempt, ExecutionOutcome, StageControl,
                                              StageResult, execute_ranked, run_plan)
from grasp6d_core.execution.backend import AttemptWrapper, Cancellable, ExecutorBackend, Parkable, attempt_runner

__all__ = ["ExecutorBackend", "AttemptWrapper", "Cancellable", "Parkable", "attempt_runner",
           "GraspLimits", "grasp_limit_violations", "PANDA_MAX_REACH",
           "GraspPlan", "PlannerConfig", "hand_rotation", "plan_grasp", "plan_grasps", "choose_symmetric_variant",
           "STAGES", "NO_STAGE", "NO_CONTROL", "StageControl", "Attempt", "ExecutionOutcome", "StageResult",
           "execute_ranked", "run_plan"]
