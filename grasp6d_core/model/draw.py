"""A PNG of a cloud (projected through the camera) with grasps drawn as gripper outlines, best in red."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.grasp import GraspGroup


def gripper_lines(grasp_row: GraspGroup, finger: float = 0.01) -> np.ndarray:
    """(4, 2, 3) segments of one grasp: two fingers, the palm, the approach stem (camera frame)."""
    R, t = grasp_row.rotations[0], grasp_row.translations[0]
    w, d = grasp_row.widths[0], grasp_row.depths[0]
    local = np.array([[[-0.02, -w / 2, 0], [d, -w / 2, 0]], [[-0.02, w / 2, 0], [d, w / 2, 0]],
                      [[-0.02, -w / 2, 0], [-0.02, w / 2, 0]], [[-0.06, 0, 0], [-0.02, 0, 0]]])
    return local @ R.T + t


def draw_grasps_png(path: str | Path, points: np.ndarray, grasps: GraspGroup, intrinsics, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sub = points[rng.choice(len(points), min(len(points), 15000), replace=False)]
    uv, ok = intrinsics.project(sub)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.scatter(uv[ok, 0], uv[ok, 1], c=sub[ok, 2], s=0.3, cmap="gray_r")
    colors = plt.cm.autumn(np.linspace(0, 0.8, max(len(grasps), 1)))
    for i in range(len(grasps)):
        for seg in gripper_lines(grasps[i]):
            s_uv, _ = intrinsics.project(seg)
            ax.plot(s_uv[:, 0], s_uv[:, 1], color=colors[i], lw=2 if i == 0 else 1)
    ax.set_xlim(uv[ok, 0].min() - 20, uv[ok, 0].max() + 20)
    ax.set_ylim(uv[ok, 1].max() + 20, uv[ok, 1].min() - 20)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
