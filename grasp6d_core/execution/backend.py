"""What the executor needs from an arm and hand: one interface that MoveIt, the simulated hand and test doubles
implement alike.

The order of the stages (open, pre-grasp, approach, close, lift, retreat) lives in one place,
:func:`grasp6d_core.execution.run_plan`; a backend performs one step at a time and answers ``(ok, message)``.
Poses are the plan's 4×4 hand-flange poses in the base frame, so the ``tcp_offset`` a plan was made with means
the same thing on every backend. ``stage`` names the step for messages, and lets a backend that has no arm (the
simulated hand) put the hand at the pre-grasp pose directly instead of planning a path to it.

A backend that must prepare and clean up around each attempt (MoveIt: the planning scene, cancelling) also has
``execute_plan(plan, control)`` (:class:`AttemptWrapper`), which runs :func:`run_plan` with its own move/grip inside
that set-up; it never orders the stages itself.

Stopping on request: :func:`run_plan` stops at the next safe point (between two steps) whatever the backend. A
backend whose motions can be interrupted safely also has ``cancel()`` (:class:`Cancellable`; MoveIt preempts the
running MoveGroup goal), and one that must be put somewhere safe after a stopped attempt has ``park()``
(:class:`Parkable`; the simulated hand lets go and leaves the scene, as after a failed step).
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from grasp6d_core.execution.planning import GraspPlan
from grasp6d_core.execution.sequencer import NO_CONTROL, StageControl, StageResult, run_plan


@runtime_checkable
class ExecutorBackend(Protocol):
    """An arm and hand the executor drives one stage at a time."""

    def move(self, stage: str, pose: np.ndarray) -> tuple[bool, str]:
        """Move the hand flange to ``pose`` (4×4, base frame); (False, why) when it cannot."""
        ...

    def grip(self, stage: str, width: float) -> tuple[bool, str]:
        """Set the finger opening to ``width`` metres (0 = close on the object); (False, why) when it fails,
        e.g. the fingers closed on nothing."""
        ...


@runtime_checkable
class AttemptWrapper(Protocol):
    """The optional hook: one attempt = set-up, :func:`run_plan` through the backend's steps, clean-up."""

    def execute_plan(self, plan: GraspPlan, control: StageControl = NO_CONTROL) -> StageResult:
        ...


@runtime_checkable
class Cancellable(Protocol):
    """A backend whose running motion can be stopped from another thread."""

    def cancel(self) -> bool:
        """Stop the motion under way and send no further one; False when nothing runs."""
        ...


@runtime_checkable
class Parkable(Protocol):
    """A backend that puts its hand somewhere safe after an attempt stopped on request."""

    def park(self) -> None:
        ...


def attempt_runner(backend: ExecutorBackend, open_width: float,
                   control: StageControl = NO_CONTROL) -> Callable[[GraspPlan], StageResult]:
    """How the executor runs one plan on ``backend``: its ``execute_plan`` hook when it has one, else
    :func:`run_plan` straight through its ``move`` / ``grip`` (hand opened to ``open_width`` first); a
    :class:`Parkable` backend is parked after an attempt that stopped on request."""
    if isinstance(backend, AttemptWrapper):
        return lambda plan: backend.execute_plan(plan, control)

    def run(plan: GraspPlan) -> StageResult:
        result = run_plan(plan, backend.move, backend.grip, open_width, control)
        if result.cancelled and isinstance(backend, Parkable):
            backend.park()
        return result
    return run
