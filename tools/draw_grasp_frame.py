"""Draw docs/grasp_frame.png: the GraspNet grasp frame on a two-finger gripper (x approach, y closing, z height)."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402


def box_faces(center, size):
    c, s = np.asarray(center), np.asarray(size) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * s + c
    idx = [[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4], [1, 3, 7, 5]]
    return [corners[i] for i in idx]


def main(out: Path) -> None:
    width, depth, height, finger, base = 0.06, 0.02, 0.02, 0.01, 0.02
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    parts = [  # in the grasp frame: fingers reach from -base to +depth along x, at y = ±(width/2 + finger/2)
        ((depth / 2 - base / 2, -(width + finger) / 2, 0), (depth + base, finger, height)),
        ((depth / 2 - base / 2, (width + finger) / 2, 0), (depth + base, finger, height)),
        ((-base - finger / 2, 0, 0), (finger, width + 2 * finger, height)),
        ((-base - finger - 0.02, 0, 0), (0.04, finger, finger)),
    ]
    for center, size in parts:
        ax.add_collection3d(Poly3DCollection(box_faces(center, size), facecolor="#8aa6c1", edgecolor="k",
                                             alpha=0.45, linewidths=0.5))
    for axis, colour, label in ((0, "r", "x: approach"), (1, "g", "y: closing"), (2, "b", "z: height")):
        direction = np.eye(3)[axis] * 0.045
        ax.quiver(0, 0, 0, *direction, color=colour, linewidth=2.5, arrow_length_ratio=0.15)
        ax.text(*(direction * 1.2), label, color=colour, fontsize=10)
    ax.scatter([0], [0], [0], color="k", s=25)
    ax.text(-0.01, -0.045, -0.03, "t: grasp point,\ncentre between the fingers", fontsize=8)
    ax.set_xlim(-0.06, 0.04), ax.set_ylim(-0.05, 0.05), ax.set_zlim(-0.05, 0.05)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=25, azim=-60)
    ax.set_title("GraspNet grasp frame: R = [x y z], t = grasp point\n"
                 "fingers extend `depth` past t along x; opening `width` along y", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/grasp_frame.png"))
