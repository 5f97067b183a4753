"""Sending a Pick goal to executor_node's ``~/pick`` from your own node and following it to the end (the demo's
client and the tests'; docs/ros_app.md § The Pick action)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from rclpy.node import Node


class PickClientNode(Node):
    """A node with an ActionClient for executor_node's Pick action (``self.pick``), made before the node spins
    (rclpy adds an ActionClient to the node's waitables before it is fully built: made in a callback it can crash
    the spinning thread) and destroyed with the node (rclpy leaves action clients alone, and one left keeps the
    node in the ROS graph)."""

    def __init__(self, name: str = "pick_client", action: str = "/executor_node/pick", **node_kwargs):
        from rclpy.action import ActionClient

        from grasp6d_ros.action import Pick
        super().__init__(name, **node_kwargs)
        self.pick = ActionClient(self, Pick, action)

    def destroy_node(self) -> None:
        self.pick.destroy()
        super().destroy_node()


@dataclass
class PickRun:
    """One goal as the client saw it: the feedback messages in order, the final GoalStatus and the result."""
    feedback: list = field(default_factory=list)
    status: int | None = None
    result: Any = None

    @property
    def stages(self) -> list[str]:
        return [f.stage for f in self.feedback]


def send_pick(client, goal, on_feedback: Callable[[Any], None] | None = None, timeout: float = 120.0,
              cancel_when: Callable[[PickRun], bool] | None = None, server_timeout: float = 30.0) -> PickRun:
    """Send ``goal`` with ``client`` (an rclpy ActionClient for grasp6d_ros/action/Pick whose node another thread
    spins) and wait for its result. ``on_feedback(feedback)`` hears each stage as it arrives; ``cancel_when(run)``,
    polled every 10 ms, asks once for a cancel when it says so. Sent once: a goal moves the arm, it is never
    re-sent. TimeoutError when the server is not there or the result does not come in time."""
    if not client.wait_for_server(timeout_sec=server_timeout):
        raise TimeoutError(f"action server {client._action_name} not available after {server_timeout:g} s")
    run, done = PickRun(), threading.Event()

    def feedback(message) -> None:
        run.feedback.append(message.feedback)
        if on_feedback is not None:
            on_feedback(message.feedback)

    def result(future) -> None:
        response = future.result()
        run.status, run.result = response.status, response.result
        done.set()

    def cancel_when_asked(handle) -> None:
        while not done.is_set():
            if cancel_when(run):
                handle.cancel_goal_async()
                return
            done.wait(0.01)

    def accepted(future) -> None:
        handle = future.result()
        if not handle.accepted:
            done.set()
            return
        handle.get_result_async().add_done_callback(result)
        if cancel_when is not None:
            threading.Thread(target=cancel_when_asked, args=(handle,), daemon=True).start()
    client.send_goal_async(goal, feedback_callback=feedback).add_done_callback(accepted)
    if not done.wait(timeout):
        raise TimeoutError(f"no result from {client._action_name} in {timeout:g} s (stages so far: {run.stages})")
    return run


def feedback_line(feedback) -> str:
    """One printed line per stage: ``pick: stage=approach attempt=1 grasp score=0.912``."""
    if feedback.attempt == 0:
        return f"pick: stage={feedback.stage}"
    return f"pick: stage={feedback.stage} attempt={feedback.attempt} grasp score={feedback.grasp.score:.3f}"
