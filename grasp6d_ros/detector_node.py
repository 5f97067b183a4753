"""detector_node: serves /detect_grasps and publishes ~/grasps and ~/markers.

No algorithm here: the cloud comes from the request or from the TSDF node's latest surface, the model is
grasp6d_core.model.detector.GraspDetector, frames go through grasp6d_ros.frames. The request's target fields
(grasp6d_ros.targets -> grasp6d_core.targets keep-filters) and the object ids (grasp6d_core.segmentation) are
applied in the cloud's own frame, after the model and its collision check on the whole scene. Every failure becomes
``success=false`` with a message naming what is wrong; the node keeps serving.

Concurrency: the service runs in a reentrant callback group (several clients at once, validation in
parallel); the model itself runs one request at a time behind a lock (it is not thread-safe and uses all
cores anyway). The surface subscription has its own mutually exclusive group so a long inference never
delays the cloud update. Spin with a MultiThreadedExecutor (``main`` does).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import HandError, hand_feasible, load_hand
from grasp6d_core.physics.hands import panda_feasible
from grasp6d_core.segmentation import SegmentationParams, label_grasps, segment_objects
from grasp6d_core.targets import ConstraintError, TargetConstraints, target_keep
from grasp6d_ros.conversions import ConversionError, grasp_group_to_msg, pointcloud2_to_numpy
from grasp6d_ros.markers import grasp_markers
from grasp6d_ros.spin import spin_until_shutdown
from grasp6d_ros.targets import needs_camera_transform, request_targets
from grasp6d_ros.transforms import FrameError, TransformLookup

DEFAULTS: dict[str, Any] = {
    "detector": "model", "table_height": 0.0, "checkpoint": "", "device": "cpu", "top_k": 50, "min_score": 0.0, "collision_check": True, "refine": False,
    "hand_filter": "", "hand": "",
    "segment_objects": True, "segmentation_voxel_size": 0.004, "segmentation_plane_distance": 0.006,
    "segmentation_plane_min_fraction": 0.15, "segmentation_cluster_distance": 0.012,
    "segmentation_min_cluster_points": 30, "segmentation_contact_distance": 0.02,
    "min_points": 200, "workspace": [-1.0, 1.0, -1.0, 1.0, 0.0, 2.0], "use_workspace": False,
    "surface_topic": "surface", "tf_timeout": 0.2, "model_frame": "", "static_transforms": [""],
}
# Robot hands bigger than GraspNet's gripper model (parameter hand_filter; '' = none): keep only grasps that
# hand can take in the cloud. The filter drops many, so the model is asked for this many times top_k first.
HAND_FILTERS: dict[str, Callable] = {"panda": panda_feasible}
HAND_FILTER_CANDIDATES = 20
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def compose(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """a @ b for 4x4 transforms where None is the identity (TransformLookup returns None for same frames)."""
    return b if a is None else a if b is None else a @ b


class DetectionError(RuntimeError):
    """A request that cannot be answered with grasps; the text is returned as the service message."""


def load_detector(checkpoint: str, device: str):
    """The Model area's GraspDetector (imported here so the node starts even when the model cannot load)."""
    try:
        from grasp6d_core.model.detector import GraspDetector
    except ImportError as error:
        raise DetectionError(f"model error: grasp6d_core.model.detector is not available ({error})") from error
    from grasp6d_core.model.checkpoint import shipped_checkpoint
    path = checkpoint or str(shipped_checkpoint())
    try:
        return GraspDetector.from_checkpoint(path, device=device)
    except Exception as error:
        raise DetectionError(f"model error: cannot load checkpoint '{path}' on {device}: "
                             f"{type(error).__name__}: {error}") from error


class AntipodalDetector:
    """The Judges' model-free antipodal baseline behind the GraspDetector interface (``detector:=antipodal``).

    It needs outward normals and a cloud frame with z up and the table at ``table_height`` (e.g. the robot base).
    """

    def __init__(self, table_height: float = 0.0, seed: int = 0):
        from grasp6d_core.sim.antipodal import antipodal_grasps
        self._grasps, self.table_height = antipodal_grasps, table_height
        self._rng = np.random.default_rng(seed)

    def detect(self, points, normals=None, top_k=50, collision=True, refine=False, hand=None) -> GraspGroup:
        if normals is None:
            raise DetectionError("the antipodal detector needs a cloud with normal_x/normal_y/normal_z fields")
        grasps = self._grasps(points, normals, table_height=self.table_height, rng=self._rng)
        if hand is not None:
            grasps = grasps[hand_feasible(points, grasps, load_hand(hand))]
        return grasps.top_k(top_k)


class DetectorNode(Node):
    def __init__(self, detector_loader: Callable[[str, str], Any] = load_detector, **node_kwargs):
        super().__init__("detector_node", **node_kwargs)
        for name, value in DEFAULTS.items():
            self.declare_parameter(name, value)
        self._loader = detector_loader
        self._detector = None
        self._model_lock = threading.Lock()
        self._surface: PointCloud2 | None = None
        self._surface_lock = threading.Lock()
        self._frames = TransformLookup(self)
        self.grasps_pub = self.create_publisher(self._grasp_array_type(), "~/grasps", LATCHED)
        self.markers_pub = self.create_publisher(MarkerArray, "~/markers", LATCHED)
        self.create_subscription(PointCloud2, self.param("surface_topic"), self._on_surface,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
                                 callback_group=MutuallyExclusiveCallbackGroup())
        from grasp6d_ros.srv import DetectGrasps
        self.create_service(DetectGrasps, "/detect_grasps", self._on_detect, callback_group=ReentrantCallbackGroup())
        self.get_logger().info("serving /detect_grasps")

    @staticmethod
    def _grasp_array_type():
        from grasp6d_ros.msg import Grasp6DArray
        return Grasp6DArray

    def param(self, name: str):
        return self.get_parameter(name).value

    def _on_surface(self, msg: PointCloud2) -> None:
        with self._surface_lock:
            self._surface = msg

    # ------------------------------------------------------------------------------------------ service
    def _on_detect(self, request, response):
        start = time.monotonic()
        try:
            grasps, frame_id, stamp = self._detect(request)
            response.grasps = grasp_group_to_msg(grasps, frame_id, stamp)
            response.success = True
            response.message = f"{len(grasps)} grasps in '{frame_id}'"
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
            raise DetectionError(f"no cloud yet: the request has an empty cloud and no TSDF surface has arrived "
                                 f"on {topic} (is tsdf_node running and integrating?)")
        return surface

    def _points(self, cloud: PointCloud2) -> tuple[np.ndarray, np.ndarray | None]:
        try:
            points, normals = pointcloud2_to_numpy(cloud, with_normals=True)
        except ConversionError as error:
            raise DetectionError(f"malformed cloud: {error}") from error
        total = cloud.width * cloud.height
        if self.param("use_workspace"):
            lo, hi = np.reshape(self.param("workspace"), (3, 2)).T
            keep = np.all((points >= lo) & (points <= hi), axis=1)
            points, normals = points[keep], (normals[keep] if normals is not None else None)
        if len(points) < int(self.param("min_points")):
            raise DetectionError(f"cloud too small: {len(points)} valid points of {total} (NaN/inf dropped"
                                 f"{', workspace crop applied' if self.param('use_workspace') else ''}); "
                                 f"need at least min_points={self.param('min_points')}")
        return points, normals

    def _transform(self, target: str, source: str, stamp):
        try:
            return self._frames.lookup(target, source, stamp, timeout=float(self.param("tf_timeout")))
        except FrameError as error:
            raise DetectionError(str(error)) from error

    def _detect(self, request) -> tuple[GraspGroup, str, Any]:
        if request.max_grasps < 0:
            raise DetectionError(f"max_grasps must be >= 0, got {request.max_grasps}")
        if not np.isfinite(request.min_score):
            raise DetectionError(f"min_score must be finite, got {request.min_score}")
        cloud = self._input_cloud(request)
        points, normals = self._points(cloud)
        source, stamp = cloud.header.frame_id, cloud.header.stamp
        target = request.target_frame or source
        # The network was trained on camera-frame clouds; a TSDF surface lives in a task frame (z up), so
        # model_frame (e.g. the camera's optical frame) says where to run it. Both lookups fail before the
        # expensive part.
        model_frame = str(self.param("model_frame")) or source
        to_model = self._transform(model_frame, source, stamp)
        to_target = self._transform(target, model_frame, stamp)
        if to_model is not None:
            points = points @ to_model[:3, :3].T + to_model[:3, 3]
            normals = normals @ to_model[:3, :3].T if normals is not None else None
        scene, targets = self._targets(request, cloud)
        top_k = int(request.max_grasps) or int(self.param("top_k"))
        hand = str(self.param("hand_filter"))
        if hand and hand not in HAND_FILTERS:
            raise DetectionError(f"parameter hand_filter='{hand}' is not one of '' | {' | '.join(HAND_FILTERS)}")
        try:
            hand_description = load_hand(self.param("hand")) if self.param("hand") else None
        except HandError as error:
            raise DetectionError(f"parameter hand: {error}") from error
        filtered = bool(hand or targets.active)
        with self._model_lock:
            if self._detector is None:
                kind = self.param("detector")
                if kind == "antipodal":
                    self._detector = AntipodalDetector(float(self.param("table_height")))
                elif kind == "model":
                    self._detector = self._loader(str(self.param("checkpoint")), str(self.param("device")))
                else:
                    raise DetectionError(f"parameter detector='{kind}' is not one of model|antipodal")
            try:
                hand_kwargs = {"hand": hand_description} if hand_description is not None else {}
                grasps = self._detector.detect(points, normals=normals,
                                               top_k=top_k * (HAND_FILTER_CANDIDATES if filtered else 1),
                                               collision=bool(self.param("collision_check")),
                                               refine=bool(self.param("refine")), **hand_kwargs)
            except DetectionError:
                raise
            except Exception as error:
                raise DetectionError(f"model error: {type(error).__name__}: {error}") from error
        if hand and len(grasps):
            grasps = grasps[HAND_FILTERS[hand](points, grasps)]
        min_score = max(float(request.min_score), float(self.param("min_score")))
        grasps = grasps[grasps.scores >= min_score]
        if to_model is not None:  # back to the cloud's frame, where the scene and the target fields live
            grasps = grasps.transform(np.linalg.inv(to_model))
        grasps = self._label_and_keep(scene, grasps, targets).top_k(top_k)
        to_target = compose(to_target, to_model)   # target <- model frame <- cloud frame
        if to_target is not None:
            grasps = grasps.transform(to_target)
        return grasps, target, stamp

    # ------------------------------------------------------------------------------------------ targets
    def _targets(self, request, cloud: PointCloud2) -> tuple[np.ndarray, TargetConstraints]:
        """The request's target fields over the cloud's points (cloud frame); checked before the model runs."""
        camera_frame = needs_camera_transform(request, cloud.header.frame_id)
        camera_from_cloud = self._transform(camera_frame, cloud.header.frame_id, cloud.header.stamp) \
            if camera_frame else None
        try:
            scene, targets = request_targets(request, cloud, camera_from_cloud)
        except ConstraintError as error:
            raise DetectionError(f"bad target: {error}") from error
        if targets.object_id is not None and not self.param("segment_objects"):
            raise DetectionError("target_object_id needs segment_objects:=true (object ids come from it)")
        if self.param("segment_objects"):
            self.segmentation_params()   # a bad value fails here, before the model runs
        return scene, targets

    def segmentation_params(self) -> SegmentationParams:
        names = SegmentationParams.__dataclass_fields__
        try:
            return SegmentationParams(**{n: self.param(f"segmentation_{n}") for n in names}).validate()
        except ValueError as error:
            raise DetectionError(f"parameter {error}") from error

    def _label_and_keep(self, scene: np.ndarray, grasps: GraspGroup, targets: TargetConstraints) -> GraspGroup:
        """object_id from the model-free segmentation, then the request's keep-filters (cloud frame)."""
        if self.param("segment_objects") and len(grasps):
            params = self.segmentation_params()
            grasps = label_grasps(scene, segment_objects(scene, params), grasps, params.contact_distance)
        return grasps[target_keep(scene, grasps, targets)]


def main(args=None) -> None:
    rclpy.init(args=args)
    node = DetectorNode()
    spin_until_shutdown(node, threads=4)


if __name__ == "__main__":
    main()
