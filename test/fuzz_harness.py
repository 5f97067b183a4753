"""Runs fuzz cases (test/fuzz_inputs.py) through the conversions and the nodes' real callbacks and sorts the outcome.

Every case ends as ``answered`` (converted / fused / success=true / executed to some stage) or ``refused`` with a
message. Anything else is a defect and is returned as ``escaped`` (an exception left the handler), ``silent``
(a refusal without a message) or ``internal`` (a handler's catch-all "internal error" answer).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from rclpy.parameter import Parameter

from fuzz_inputs import SMALL, Case
from grasp6d_ros.conversions import (ConversionError, camera_info_to_intrinsics, depth_image_to_metres,
                                     intrinsics_to_camera_info, pointcloud2_to_numpy)
from grasp6d_ros.detector_node import DetectorNode
from grasp6d_ros.executor_node import ExecutorNode
from grasp6d_ros.tsdf_node import TSDFNode

DEFECTS = ("escaped", "silent", "internal")


class RecordingTSDFNode(TSDFNode):
    """The real tsdf_node; remembers the text of its last skip so the harness can check every refusal says why."""

    def __init__(self, **kwargs):
        self.last_skip: str | None = None
        super().__init__(**kwargs)

    def _skip(self, reason: str, detail: str, n: int = 1) -> None:
        self.last_skip = f"{reason}: {detail}"
        super()._skip(reason, detail, n)


@dataclass
class FuzzReport:
    outcomes: Counter = field(default_factory=Counter)            # answered / refused / defects
    per_kind: dict = field(default_factory=dict)                   # kind -> Counter
    defects: list = field(default_factory=list)                    # (kind, name, outcome, text)

    def add(self, case: Case, outcome: str, text: str = "") -> None:
        self.outcomes[outcome] += 1
        self.per_kind.setdefault(case.kind, Counter())[outcome] += 1
        if outcome in DEFECTS:
            self.defects.append((case.kind, case.name, outcome, text))

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())


def make_nodes(context, sim_backend) -> dict:
    """Real node objects, never spun: the harness calls their callbacks itself (as the executor would)."""
    return {
        "tsdf": RecordingTSDFNode(context=context, parameter_overrides=[Parameter("log_throttle", value=60.0)]),
        "detector": DetectorNode(context=context, parameter_overrides=[
            Parameter("detector", value="antipodal"), Parameter("min_points", value=20)]),
        "executor": ExecutorNode(backend=sim_backend, context=context, parameter_overrides=[
            Parameter("backend", value="sim"), Parameter("max_attempts", value=1)]),
    }


class Runner:
    def __init__(self, nodes: dict):
        self.nodes = nodes
        self.stamp = 1000.0

    def run(self, case: Case, report: FuzzReport) -> None:
        try:
            outcome, text = getattr(self, f"_{case.kind}")(case.message)
        except Exception as error:  # the defect the fuzzer is for
            outcome, text = "escaped", f"{type(error).__name__}: {error}"
        if outcome == "refused" and not text.strip():
            outcome = "silent"
        elif outcome == "refused" and "internal error" in text:
            outcome = "internal"
        report.add(case, outcome, text)

    # ------------------------------------------------------------------------------------------ per kind
    @staticmethod
    def _cloud(msg):
        try:
            points, normals = pointcloud2_to_numpy(msg, with_normals=True)
        except ConversionError as error:
            return "refused", str(error)
        assert points.dtype == np.float32 and points.ndim == 2 and points.shape[1] == 3
        assert np.all(np.isfinite(points)) and (normals is None or normals.shape == points.shape)
        return "answered", ""

    def _image(self, msg):
        try:
            depth_image_to_metres(msg)
        except ConversionError as error:
            conversion = str(error)
            assert conversion, "ConversionError without text"
        tsdf = self.nodes["tsdf"]
        tsdf._on_info(intrinsics_to_camera_info(SMALL, "camera_depth_optical_frame"))
        if msg.header.stamp.sec == 0:   # a fresh stamp unless the case is about stamps
            self.stamp += 0.5
            msg.header.stamp.sec = int(self.stamp)
            msg.header.stamp.nanosec = int(round((self.stamp % 1) * 1e9))
        before, tsdf.last_skip = sum(tsdf.counts.values()), None
        tsdf._integrate_queued((msg, time.monotonic()))
        assert sum(tsdf.counts.values()) == before + 1, "a frame was neither fused nor counted"
        return ("refused", tsdf.last_skip or "") if tsdf.last_skip is not None else ("answered", "")

    def _camera_info(self, msg):
        try:
            camera_info_to_intrinsics(msg)
            converted = True
        except ConversionError as error:
            converted = False
            text = str(error)
        tsdf = self.nodes["tsdf"]
        before, tsdf.last_skip = tsdf.counts["bad camera_info"], None
        tsdf._on_info(msg)
        if converted:
            assert tsdf.counts["bad camera_info"] == before
            return "answered", ""
        assert tsdf.counts["bad camera_info"] == before + 1
        return "refused", text if tsdf.last_skip else ""

    def _detect(self, request):
        from grasp6d_ros.srv import DetectGrasps
        response = self.nodes["detector"]._on_detect(request, DetectGrasps.Response())
        if response.success:
            grasps = response.grasps.grasps
            assert all(np.isfinite([g.score, g.width, g.pose.position.x]).all() for g in grasps)
            return "answered", response.message
        return "refused", response.message

    def _execute(self, request):
        from grasp6d_ros.msg import Grasp6DArray
        from grasp6d_ros.srv import ExecuteGrasp
        if isinstance(request, Grasp6DArray):   # a ranked list arrives on ~/grasps, then an empty request
            self.nodes["executor"]._on_grasps(request)
            request = ExecuteGrasp.Request()
        response = self.nodes["executor"]._on_execute(request, ExecuteGrasp.Response())
        if response.success or response.stage != "none":   # the hand moved: executed to some stage
            return "answered", response.message
        return "refused", response.message


def run_cases(cases, runner: Runner) -> FuzzReport:
    report = FuzzReport()
    for case in cases:
        runner.run(case, report)
    return report
