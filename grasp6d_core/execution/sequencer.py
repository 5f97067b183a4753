"""Run a grasp plan stage by stage through a backend, and fall back to the next ranked grasp on failure.

This is the only place that knows the order of the stages; a backend (grasp6d_core.execution.backend:
MoveIt, the simulated hand, test doubles) performs one ``move(stage, pose)`` or ``grip(stage, width)`` at a time.
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

MoveFn = Callable[[str, np.ndarray], tuple[bool, str]]
GripFn = Callable[[str, float], tuple[bool, str]]


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

    @property
    def executed_rank(self) -> int | None:
        return self.attempts[-1].rank if self.attempts else None


def run_plan(plan: GraspPlan, move: MoveFn, grip: GripFn, open_width: float = PANDA.max_opening) -> StageResult:
    """pregrasp (hand open) -> approach -> close -> lift -> retreat; stops at the first failing stage.

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
    for stage, step in steps:
        try:
            ok, message = step()
        except Exception as error:  # a backend bug must end this attempt, not the node
            ok, message = False, f"{type(error).__name__}: {error}"
        if not ok:
            return StageResult(False, stage, f"{stage} failed: {message}")
    return StageResult(True, "retreat", "grasp executed: pregrasp, approach, close, lift, retreat")


def execute_ranked(plans: Sequence[GraspPlan], execute_one: Callable[[GraspPlan], StageResult],
                   max_attempts: int = 3, retry_stages: Sequence[str] = DEFAULT_RETRY_STAGES) -> ExecutionOutcome:
    """Try plans best first; move on to the next only when an attempt failed in one of ``retry_stages`` (and
    was not cancelled)."""
    if not plans:
        return ExecutionOutcome(False, "none", "no grasp to execute")
    attempts: list[Attempt] = []
    for plan in list(plans)[: max(int(max_attempts), 1)]:
        result = execute_one(plan)
        attempts.append(Attempt(plan.rank, result))
        if result.success:
            return ExecutionOutcome(True, result.stage, f"grasp #{plan.rank + 1}: {result.message}", attempts)
        if result.cancelled or result.stage not in retry_stages:
            break
    last = attempts[-1]
    tried = ", ".join(f"#{a.rank + 1} at {a.result.stage}" for a in attempts)
    return ExecutionOutcome(False, last.result.stage,
                            f"grasp #{last.rank + 1}: {last.result.message} (tried {tried})", attempts)
