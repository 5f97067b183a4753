"""Run a grasp plan stage by stage through a backend, and fall back to the next ranked grasp on failure.

This is the only place that knows the order of the stages; a backend (grasp6d_core.execution.backend:
MoveIt, the simulated hand, test doubles) performs one ``move(stage, pose)`` or ``grip(stage, width)`` at a time.
A caller follows the progress and stops a run through a :class:`StageControl`: it hears each stage as it starts
and is asked whether to stop at every safe point, i.e. between two steps, where no motion is under way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from grasp6d_core.execution.planning import GraspPlan
from grasp6d_core.hand import PANDA

STAGES = ("pregrasp", "approach", "close", "lift", "retreat")
# Failing before the fingers touched anything leaves the scene as it was: trying the next grasp is safe.
DEFAULT_RETRY_STAGES = ("pregrasp", "approach")
NO_STAGE = "none"   # the stage of a run that stopped before its first step

MoveFn = Callable[[str, np.ndarray], tuple[bool, str]]
GripFn = Callable[[str, float], tuple[bool, str]]


def _ignore(*_args) -> None:
    return None


def _never() -> bool:
    return False


@dataclass
class StageControl:
    """How a caller follows and stops a run: ``on_attempt(number, plan)`` before each ranked attempt (1, 2, ...),
    ``on_stage(stage)`` as each stage starts, ``stop_requested()`` at every safe point (between two steps)."""
    on_attempt: Callable[[int, GraspPlan], None] = _ignore
    on_stage: Callable[[str], None] = _ignore
    stop_requested: Callable[[], bool] = _never


NO_CONTROL = StageControl()


@dataclass
class StageResult:
    success: bool
    stage: str          # last stage reached (the failing one on failure, "retreat" on success)
    message: str
    cancelled: bool = False   # stopped on request: no further grasp is tried


@dataclass
class Attempt:
    rank: int
    result: StageResult


@dataclass
class ExecutionOutcome:
    success: bool
    stage: str
    message: str
    attempts: list[Attempt] = field(default_factory=list)
    cancelled: bool = False

    @property
    def executed_rank(self) -> int | None:
        return self.attempts[-1].rank if self.attempts else None


def cancelled_at(stage: str) -> StageResult:
    """The result of a run stopped on request at the safe point after ``stage`` (NO_STAGE: before any step)."""
    where = "before the first stage" if stage == NO_STAGE else f"after {stage}"
    return StageResult(False, stage, f"cancelled {where}", cancelled=True)


def run_plan(plan: GraspPlan, move: MoveFn, grip: GripFn, open_width: float = PANDA.max_opening,
             control: StageControl = NO_CONTROL) -> StageResult:
    """pregrasp (hand open) -> approach -> close -> lift -> retreat; stops at the first failing stage, or at the
    next safe point once ``control.stop_requested()`` says so (a cancelled result naming the last stage begun).

    ``move`` / ``grip`` are an :class:`ExecutorBackend`'s methods (or wrappers around them: a backend that
    prepares each stage, as MoveIt's planning scene does, passes its own)."""
    steps: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("pregrasp", lambda: grip("pregrasp", max(open_width, plan.width))),
        ("pregrasp", lambda: move("pregrasp", plan.poses["pregrasp"])),
        ("approach", lambda: move("approach", plan.poses["approach"])),
        ("close", lambda: grip("close", 0.0)),
        ("lift", lambda: move("lift", plan.poses["lift"])),
        ("retreat", lambda: move("retreat", plan.poses["retreat"])),
    ]
    reached = NO_STAGE
    for stage, step in steps:
        if control.stop_requested():
            return cancelled_at(reached)
        if stage != reached:
            reached = stage
            control.on_stage(stage)
        try:
            ok, message = step()
        except Exception as error:  # a backend bug must end this attempt, not the node
            ok, message = False, f"{type(error).__name__}: {error}"
        if not ok:
            return StageResult(False, stage, f"{stage} failed: {message}")
    return StageResult(True, "retreat", "grasp executed: pregrasp, approach, close, lift, retreat")


def execute_ranked(plans: Sequence[GraspPlan], execute_one: Callable[[GraspPlan], StageResult],
                   max_attempts: int = 3, retry_stages: Sequence[str] = DEFAULT_RETRY_STAGES,
                   control: StageControl = NO_CONTROL) -> ExecutionOutcome:
    """Try plans best first; move on to the next only when an attempt failed in one of ``retry_stages`` and no
    stop was requested (``control``: the attempt number and plan are announced before each attempt)."""
    if not plans:
        return ExecutionOutcome(False, NO_STAGE, "no grasp to execute")
    attempts: list[Attempt] = []
    cancelled_between = False
    for number, plan in enumerate(list(plans)[: max(int(max_attempts), 1)], start=1):
        if attempts and control.stop_requested():   # between two attempts: a safe point too
            cancelled_between = True
            break
        control.on_attempt(number, plan)
        result = execute_one(plan)
        attempts.append(Attempt(plan.rank, result))
        if result.success:
            return ExecutionOutcome(True, result.stage, f"grasp #{plan.rank + 1}: {result.message}", attempts)
        if result.cancelled or result.stage not in retry_stages:
            break
    last = attempts[-1]
    tried = ", ".join(f"#{a.rank + 1} at {a.result.stage}" for a in attempts)
    message = f"grasp #{last.rank + 1}: {last.result.message} (tried {tried})"
    if cancelled_between:
        message = f"cancelled before the next grasp; {message}"
    return ExecutionOutcome(False, last.result.stage, message, attempts,
                            cancelled=cancelled_between or last.result.cancelled)
