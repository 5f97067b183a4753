"""Pictures of grasps: a cloud in a z-up frame (table frame, robot base) with its best grasps drawn as
gripper outlines, red (worst shown) -> green (best). Used by ``make demo`` and ``grasp6d detect``; the RViz
markers share the gripper dimensions and colours.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.grasp import GraspGroup

FINGER_WIDTH = 0.01     # m, the evaluator's finger
BASE_DEPTH = 0.02       # m, palm behind the grasp point
STEM_LENGTH = 0.04      # m, drawn behind the palm to show the approach


def score_colours(scores: np.ndarray) -> np.ndarray:
    """(N,) scores -> (N, 3) RGB, red (worst) -> green (best), normalised over the set shown."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return np.zeros((0, 3))
    lo, hi = float(scores.min()), float(scores.max())
    t = (scores - lo) / (hi - lo) if hi - lo > 1e-9 else np.ones_like(scores)
    return np.stack([1.0 - t, t, np.zeros_like(t)], axis=1)


# matplotlib's tab10 without its red and green, which score colours use; object k gets OBJECT_PALETTE[k % 8].
OBJECT_PALETTE = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.58, 0.4, 0.74], [0.55, 0.34, 0.29],
                           [0.89, 0.47, 0.76], [0.5, 0.5, 0.5], [0.74, 0.74, 0.13], [0.09, 0.75, 0.81]])
NO_OBJECT_COLOUR = np.array([0.8, 0.8, 0.8])


def object_colours(object_ids: np.ndarray) -> np.ndarray:
    """(N,) object ids -> (N, 3) RGB, one colour per object (ids >= 1), light grey for -1 / 0 (no object)."""
    ids = np.asarray(object_ids, dtype=np.int64)
    colours = OBJECT_PALETTE[np.maximum(ids - 1, 0) % len(OBJECT_PALETTE)]
    colours[ids < 1] = NO_OBJECT_COLOUR
    return colours


def gripper_outlines(grasps: GraspGroup) -> list[np.ndarray]:
    """Per grasp a polyline fingertip -> palm -> other fingertip -> palm centre -> stem end (world points)."""
    lines = []
    for R, t, w, d in zip(grasps.rotations, grasps.translations, grasps.widths, grasps.depths):
        half = w / 2 + FINGER_WIDTH / 2  # finger centre lines, as the RViz markers (x approach, y closing)
        local = np.array([[d, -half, 0], [-BASE_DEPTH, -half, 0], [-BASE_DEPTH, half, 0], [d, half, 0],
                          [-BASE_DEPTH, half, 0], [-BASE_DEPTH, 0, 0], [-BASE_DEPTH - STEM_LENGTH, 0, 0]])
        lines.append(local @ R.T + t)
    return lines


def save_grasp_picture(points: np.ndarray, grasps: GraspGroup, path: str | Path, top: int = 10,
                       title: str | None = None) -> Path:
    """A cloud in a z-up frame with its top grasps: a top view and an oblique 3-D view, both to scale.

    Points are coloured by height (the table light, objects dark) so the objects stand out; grippers are
    drawn like the RViz markers, red (worst shown) -> green (best), the best thick and labelled.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    best = grasps.sort_by_score()[:top]
    outlines, colours = gripper_outlines(best), score_colours(best.scores)
    if len(points) > 20000:
        points = points[np.random.default_rng(0).choice(len(points), 20000, replace=False)]
    # frame the objects (points well above the lowest surface, i.e. not the table) and the grasps
    raised = points[points[:, 2] > np.percentile(points[:, 2], 5) + 0.01] if len(points) else points
    region = np.concatenate([raised.reshape(-1, 3)] + outlines) if len(raised) or outlines else np.zeros((1, 3))
    lo, hi = np.percentile(region, 0.5, axis=0), np.percentile(region, 99.5, axis=0)
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2, 0.05) + 0.03
    fig = plt.figure(figsize=(12, 5.5))
    top_ax = fig.add_subplot(1, 2, 1)
    ax3d = fig.add_subplot(1, 2, 2, projection="3d")
    if len(points):
        order = np.argsort(points[:, 2])  # higher points drawn last: objects over the table
        inside = np.all(np.abs(points[order] - centre) <= half, axis=1)  # mplot3d does not clip to the axes
        for axis in (top_ax, ax3d):
            coords = points[order, :2].T if axis is top_ax else points[order][inside].T
            axis.scatter(*coords, c=points[order, 2] if axis is top_ax else points[order][inside, 2], cmap="Greys", vmin=np.percentile(points[:, 2], 2) - 0.02,
                         vmax=np.percentile(points[:, 2], 99.5), s=2 if axis is top_ax else 1, linewidths=0)
    for i in reversed(range(len(best))):  # best drawn last, on top
        width = 3.5 if i == 0 else 1.5
        top_ax.plot(*outlines[i][:, :2].T, color=colours[i], linewidth=width)
        ax3d.plot(*outlines[i].T, color=colours[i], linewidth=width)
    if len(best):
        tip = outlines[0][-1]
        top_ax.annotate(f"#1 {best.scores[0]:.2f}", tip[:2], xytext=(8, 8), textcoords="offset points",
                        color="darkgreen", fontsize=11, weight="bold",
                        bbox=dict(boxstyle="round", facecolor="white", alpha=0.8))
    top_ax.set(xlim=(centre[0] - half, centre[0] + half), ylim=(centre[1] - half, centre[1] + half),
               xlabel="x [m]", ylabel="y [m]", title="top view")
    top_ax.set_aspect("equal")
    ax3d.set(xlim=(centre[0] - half, centre[0] + half), ylim=(centre[1] - half, centre[1] + half),
             zlim=(centre[2] - half, centre[2] + half), xlabel="x [m]", ylabel="y [m]", zlabel="z [m]")
    ax3d.set_box_aspect((1, 1, 1))
    ax3d.view_init(elev=35, azim=-60)
    fig.suptitle((title + "\n" if title else "")
                 + f"top {len(best)} of {len(grasps)} grasps: green = best score, red = lowest shown; #1 thick")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
