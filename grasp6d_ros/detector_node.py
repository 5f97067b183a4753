"""detector_node: serves /detect_grasps and publishes ~/grasps and ~/markers.

No algorithm here: the cloud comes from the request or from the TSDF node's latest surface, the detection
policy (workspace crop, model, hand, hand filter, object ids, the request's target fields, min_score, top_k) is
grasp6d_core.pipeline.GraspPipeline — the same one ``grasp6d detect`` and ``grasp6d sim-bench`` run — the target
fields are read by grasp6d_ros.targets and frames go through grasp6d_ros.frames. Every failure becomes
``success=false`` with a message naming what is wrong; the node keeps serving.

Lifecycle (grasp6d_ros.managed_node, docs/ros_app.md "Lifecycle"): configure loads the model (so the first request
does not wait for it) and checks the detection parameters; activate starts answering /detect_grasps and publishing;
deactivate stops both and keeps the model; cleanup releases it. Outside ``active`` a call is answered
``success=false``, "node is inactive (...)" or why configure failed.

Concurrency: the service runs in a reentrant callback group (several clients at once, validation in
parallel); the model itself runs one request at a time behind a lock (it is not thread-safe and uses all
cores anyway). The surface subscription has its own mutually exclusive group so a long inference never
delays the cloud update. Spin with a MultiThreadedExecutor (``main`` does).
"""
from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from grasp6d_core.errors import Grasp6dError
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import hand_feasible
from grasp6d_core.consensus import DEFAULT_SCORING
from grasp6d_core.pipeline import GraspPipeline, PipelineError, PipelineResult, PipelineSettings
from grasp6d_core.segmentation import SegmentationParams
from grasp6d_core.targets import ConstraintError, TargetConstraints
from grasp6d_ros.conversions import ConversionError, grasp_group_to_msg
from grasp6d_ros.frames import FrameError, TransformLookup
from grasp6d_ros.managed_node import ManagedNode
from grasp6d_ros.markers import grasp_markers
from grasp6d_ros.spin import spin_until_shutdown
from grasp6d_ros.targets import cloud_points, needs_camera_transform, request_targets

DEFAULTS: dict[str, Any] = {
    "detector": "model", "table_height": 0.0, "checkpoint": "", "device": "cpu", "precision": "auto", "top_k": 50, "min_score": 0.0, "collision_check": True, "refine": False, "scoring": DEFAULT_SCORING,
    "hand_filter": "", "hand_candidates": 20, "max_range": 2.0, "hand": "",
    "segment_objects": True, "segmentation_voxel_size": 0.004, "segmentation_plane_distance": 0.006,
    "segmentation_plane_min_fraction": 0.15, "segmentation_cluster_distance": 0.012,
    "segmentation_min_cluster_points": 30, "segmentation_contact_distance": 0.02,
    "min_points": 200, "workspace": [-1.0, 1.0, -1.0, 1.0, 0.0, 2.0], "use_workspace": False,
    "surface_topic": "surface", "tf_timeout": 0.2, "model_frame": "", "static_transforms": [""],
}
# The model is built from these at configure. They are read-only after start (set them with -p at launch): a
# later change would otherwise be ignored without a word, and a remote peer could swap the checkpoint of a
# running node. A set_parameters call on them is refused with a reason naming the parameter.
FIXED_AT_START = ("detector", "checkpoint", "device", "precision")
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# How an answer to a request without a cloud starts before any surface arrived: a client may ask again later.
NO_CLOUD_YET = "no cloud yet"


def compose(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """a @ b for 4x4 transforms where None is the identity (TransformLookup returns None for same frames)."""
    return b if a is None else a if b is None else a @ b


class DetectionError(Grasp6dError, RuntimeError):
    """A request that cannot be answered with grasps; the text is returned as the service message."""


def load_detector(checkpoint: str, device: str, precision: str = "auto"):
    """The learned GraspDetector (imported here so the node starts even when the model cannot load);
    ``precision``: the heads' arithmetic (auto | float32 | bfloat16)."""
    try:
        from grasp6d_core.model.detector import GraspDetector
    except ImportError as error:
        raise DetectionError(f"model error: grasp6d_core.model.detector is not available ({error})") from error
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    path = checkpoint or str(shipped_checkpoint())
    try:
        return GraspDetector.from_checkpoint(path, device=device, precision=precision)
    except Exception as error:
        raise DetectionError(f"model error: cannot load checkpoint '{path}' on {device}: "
                             f"{type(error).__name__}: {error}") from error


class AntipodalDetector:
    """The model-free antipodal baseline (grasp6d_core.sim.antipodal) behind the GraspDetector interface (``detector:=antipodal``).

    It needs outward normals and a cloud frame with z up and the table at ``table_height`` (e.g. the robot base).
    """

    def __init__(self, table_height: float = 0.0, seed: int = 0):
        from grasp6d_core.sim.antipodal import antipodal_grasps
        self._grasps, self.table_height = antipodal_grasps, table_height
        self._rng = np.random.default_rng(seed)

    def detect(self, points, normals=None, top_k=50, collision=True, refine=False, nms=None,
               hand=None, scoring="network") -> GraspGroup:
        if normals is None:
            raise DetectionError("the antipodal detector needs a cloud with normal_x/normal_y/normal_z fields")
        # nms and scoring are accepted for the detector interface but not applied: this is the same baseline
        # sim-bench judges, which has neither (its seeds are already spread over the surface).
        grasps = self._grasps(points, normals, table_height=self.table_height, rng=self._rng)
        if hand is not None:
            grasps = grasps[hand_feasible(points, grasps, hand)]
        return grasps.top_k(top_k)


class DetectorNode(ManagedNode):
    def __init__(self, detector_loader: Callable[[str, str, str], Any] = load_detector, **node_kwargs):
        super().__init__("detector_node", **node_kwargs)
        for name, value in DEFAULTS.items():
            fixed = name in FIXED_AT_START
            self.declare_parameter(name, value, ParameterDescriptor(
                read_only=fixed, description="read-only after start: set it with -p at launch" if fixed else ""))
        self._loader = detector_loader
        self._detector = None
        self._model_lock = threading.Lock()
        self._surface: PointCloud2 | None = None
        self._surface_lock = threading.Lock()
        self._frames = TransformLookup(self)
        self.grasps_pub = self.create_lifecycle_publisher(self._grasp_array_type(), "~/grasps", LATCHED)
        self.markers_pub = self.create_lifecycle_publisher(MarkerArray, "~/markers", LATCHED)
        self.create_subscription(PointCloud2, self.param("surface_topic"), self._on_surface,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
                                 callback_group=MutuallyExclusiveCallbackGroup())
        from grasp6d_ros.srv import DetectGrasps
        # Created here, not at activate: a client of an inactive node gets an answer saying so, not a silent wait.
        self.create_service(DetectGrasps, "/detect_grasps", self._on_detect, callback_group=ReentrantCallbackGroup())
        self.start()

    @staticmethod
    def _grasp_array_type():
        from grasp6d_ros.msg import Grasp6DArray
        return Grasp6DArray

    def param(self, name: str):
        return self.get_parameter(name).value

    # -------------------------------------------------------------------------------------- lifecycle
    def configure(self) -> None:
        """Load the model (or make the baseline) and check the detection parameters, before any request."""
        self._settings()
        with self._model_lock:
            self._detector = self._build_detector()

    def release(self) -> None:
        with self._model_lock:   # waits for a running inference
            self._detector = None
        gc.collect()   # the network's tensors go with their last reference; collect cycles so it is now
        torch = sys.modules.get("torch")   # loaded by the model; never imported just for this
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()   # else torch's allocator keeps the freed GPU memory for this process

    def _on_surface(self, msg: PointCloud2) -> None:
        with self._surface_lock:
            self._surface = msg

    # ------------------------------------------------------------------------------------------ service
    def _on_detect(self, request, response):
        start = time.monotonic()
        refused = self.not_active_reason()
        if refused:
            response.success, response.message = False, refused
            return response
        try:
            result, frame_id, stamp = self._detect(request)
            grasps = result.grasps
            response.grasps = grasp_group_to_msg(grasps, frame_id, stamp)
            response.success = True
            response.message = "; ".join(filter(None, [f"{len(grasps)} grasps in '{frame_id}'", result.summary()]))
            self.grasps_pub.publish(response.grasps)
            self.markers_pub.publish(grasp_markers(grasps, frame_id, stamp))
        except DetectionError as error:
            response.success, response.message = False, str(error)
        except Exception as error:  # never let an exception cross the service: log it, answer, keep running
            response.success, response.message = False, f"internal error: {type(error).__name__}: {error}"
            self.get_logger().error(f"/detect_grasps: {response.message}")
        response.detection_time = float(time.monotonic() - start)
        if not response.success:
            self.get_logger().warning(f"/detect_grasps failed: {response.message}")
        return response

    def _input_cloud(self, request) -> PointCloud2:
        cloud = request.cloud
        if cloud.width * cloud.height > 0:
            return cloud
        with self._surface_lock:
            surface = self._surface
        if surface is None:
            topic = self.resolve_topic_name(self.param("surface_topic"))
            raise DetectionError(f"{NO_CLOUD_YET}: the request has an empty cloud and no TSDF surface has arrived "
                                 f"on {topic} (is tsdf_node running and integrating?)")
        return surface

    def _points(self, cloud: PointCloud2) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The cloud's valid points and normals, and their indices in the (possibly organized) cloud."""
        try:
            return cloud_points(cloud)
        except ConversionError as error:
            raise DetectionError(f"malformed cloud: {error}") from error

    def _settings(self) -> PipelineSettings:
        """The detection policy from the parameters (read per request, so a parameter change applies at once)."""
        try:
            return PipelineSettings(
                max_range=float(self.param("max_range")) or None,
                box=tuple(self.param("workspace")) if self.param("use_workspace") else None,
                min_points=int(self.param("min_points")), top_k=int(self.param("top_k")),
                min_score=float(self.param("min_score")), collision=bool(self.param("collision_check")),
                refine=bool(self.param("refine")), scoring=str(self.param("scoring")),
                hand_filter=str(self.param("hand_filter")),
                hand=str(self.param("hand")) or None, hand_candidates=int(self.param("hand_candidates")),
                segmentation=self._segmentation())
        except PipelineError as error:  # name the node's parameter where its name differs from the setting's
            raise DetectionError(f"parameter {error}".replace("parameter box ", "parameter workspace ")) from error

    def _segmentation(self) -> SegmentationParams | None:
        """The segmentation_* parameters when segment_objects is on (PipelineSettings checks them)."""
        if not self.param("segment_objects"):
            return None
        return SegmentationParams(**{n: self.param(f"segmentation_{n}") for n in SegmentationParams.__dataclass_fields__})

    def _transform(self, target: str, source: str, stamp):
        try:
            return self._frames.lookup(target, source, stamp, timeout=float(self.param("tf_timeout")))
        except FrameError as error:
            raise DetectionError(str(error)) from error

    def _model(self):
        """The configured detector (call with the model lock held)."""
        if self._detector is None:   # released by a cleanup between this request's state check and now
            raise DetectionError(f"no model: {self.not_active_reason() or 'released'}")
        return self._detector

    def _build_detector(self):
        kind = self.param("detector")
        if kind == "antipodal":
            return AntipodalDetector(float(self.param("table_height")))
        if kind != "model":
            raise DetectionError(f"parameter detector='{kind}' is not one of model|antipodal")
        start = time.monotonic()
        detector = self._loader(str(self.param("checkpoint")), str(self.param("device")), str(self.param("precision")))
        info = getattr(detector, "info", {}) or {}
        self.get_logger().info(f"model loaded in {time.monotonic() - start:.1f} s: checkpoint "
                               f"{info.get('path', self.param('checkpoint'))} (config {info.get('config', '?')}, "
                               f"step {info.get('step', '?')}) on {self.param('device')}, heads in "
                               f"{getattr(detector, 'precision', 'float32')}")
        return detector

    def _detect(self, request) -> tuple[PipelineResult, str, Any]:
        if request.max_grasps < 0:
            raise DetectionError(f"max_grasps must be >= 0, got {request.max_grasps}")
        if not np.isfinite(request.min_score):
            raise DetectionError(f"min_score must be finite, got {request.min_score}")
        settings = self._settings()
        cloud = self._input_cloud(request)
        points, normals, indices = self._points(cloud)
        source, stamp = cloud.header.frame_id, cloud.header.stamp
        target = request.target_frame or source
        # The network was trained on camera-frame clouds; a TSDF surface lives in a task frame (z up), so
        # model_frame (e.g. the camera's optical frame) says where to run it. Both lookups fail before the
        # expensive part.
        model_frame = str(self.param("model_frame")) or source
        to_model = self._transform(model_frame, source, stamp)
        to_target = self._transform(target, model_frame, stamp)
        targets = self._targets(request, cloud, points, indices)
        pipeline = GraspPipeline(_LockedModel(self), settings)
        try:
            result = pipeline.run(points, normals, to_model=to_model, targets=targets,
                                  top_k=int(request.max_grasps) or None, min_score=float(request.min_score),
                                  cloud_size=cloud.width * cloud.height)
        except (DetectionError, PipelineError) as error:
            raise DetectionError(str(error)) from error
        except Exception as error:
            raise DetectionError(f"model error: {type(error).__name__}: {error}") from error
        # The pipeline answers in the cloud's frame; target <- model <- cloud.
        to_target = compose(to_target, to_model)
        if to_target is not None:
            result.grasps = result.grasps.transform(to_target)
        return result, target, stamp

    def _targets(self, request, cloud: PointCloud2, points: np.ndarray, indices: np.ndarray) -> TargetConstraints:
        """The request's target fields over the cloud's points (cloud frame); checked before the model runs."""
        camera_frame = needs_camera_transform(request, cloud.header.frame_id)
        camera_from_cloud = self._transform(camera_frame, cloud.header.frame_id, cloud.header.stamp) \
            if camera_frame else None
        try:
            return request_targets(request, cloud, points, indices, camera_from_cloud)
        except ConstraintError as error:
            raise DetectionError(f"bad target: {error}") from error


class _LockedModel:
    """The node's detector behind the pipeline: one inference at a time (validation and the workspace crop of
    other requests run in parallel)."""

    def __init__(self, node: DetectorNode):
        self._node = node

    def detect(self, *args, **kwargs) -> GraspGroup:
        with self._node._model_lock:
            return self._node._model().detect(*args, **kwargs)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = DetectorNode()
    spin_until_shutdown(node, threads=4)


if __name__ == "__main__":
    main()
