"""The command-line face of PipelineSettings: the flags ``grasp6d detect`` and ``grasp6d sim-bench`` share, and
their mapping onto the settings (the library itself takes PipelineSettings only)."""
from __future__ import annotations

import argparse

from grasp6d_core.consensus import SCORINGS
from grasp6d_core.pipeline import HAND_FILTERS, PipelineSettings


def add_pipeline_arguments(parser: argparse.ArgumentParser, hand_filter: str = "", top_k: int = 50) -> None:
    """The CLI flags of PipelineSettings (``grasp6d detect`` and ``grasp6d sim-bench`` share them)."""
    parser.add_argument("--top-k", type=int, default=top_k, help="grasps kept per detection")
    parser.add_argument("--min-score", type=float, default=0.0, help="grasps below this score are dropped")
    parser.add_argument("--no-collision", action="store_true", help="skip the model-free collision check")
    parser.add_argument("--refine", action="store_true", help="contact-map refinement (checkpoints with a prior)")
    parser.add_argument("--scoring", default=PipelineSettings.scoring, choices=SCORINGS,
                        help="rank grasps by the network's score, or by how many seeds agree on them (consensus)")
    parser.add_argument("--hand-filter", default=hand_filter, choices=["", *HAND_FILTERS],
                        help="keep only grasps this robot hand can take ('' = GraspNet's gripper only)")
    parser.add_argument("--hand", default="", metavar="PRESET|YAML",
                        help="the gripper: graspnet | panda | robotiq_2f_85 | a hand YAML; grasps wider than it or "
                             "colliding with its fingers are dropped ('' = GraspNet's gripper)")
    parser.add_argument("--hand-candidates", type=int, default=PipelineSettings.hand_candidates,
                        help="with a hand filter, ask the model for top-k x this many grasps first (the filter drops many)")
    parser.add_argument("--max-range", type=float, default=PipelineSettings.max_range,
                        help="drop points farther than this from the camera [m]; 0 = no bound")


def settings_from_args(args: argparse.Namespace, **extra) -> PipelineSettings:
    """PipelineSettings from add_pipeline_arguments' flags (plus fields a command sets itself)."""
    return PipelineSettings(max_range=args.max_range or None, top_k=args.top_k, min_score=args.min_score,
                            collision=not args.no_collision, refine=args.refine, scoring=args.scoring, hand_filter=args.hand_filter,
                            hand=args.hand or None, hand_candidates=args.hand_candidates, **extra)
