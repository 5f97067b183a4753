"""Draw docs/extra_walls_objects.png: one object of each family of an extra training set (default 'walls').

Usage: python tools/draw_extra_objects.py [SET] [OUT.png]
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from grasp6d_core.data.objects import EXTRA_SETS, combined_mesh, object_library, object_parts  # noqa: E402


def main(extra_set: str, out: Path) -> None:
    split = EXTRA_SETS[extra_set]
    firsts = {}
    for entry in object_library():
        if entry.split == split:
            firsts.setdefault(entry.family, entry)
    fig = plt.figure(figsize=(3.2 * len(firsts), 3.8))
    for i, entry in enumerate(firsts.values()):
        mesh = combined_mesh(object_parts(entry))
        ax = fig.add_subplot(1, len(firsts), i + 1, projection="3d")
        shade = 0.35 + 0.6 * np.abs(mesh.face_normals @ np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]))
        ax.add_collection3d(Poly3DCollection(mesh.vertices[mesh.faces] * 100, facecolors=plt.cm.Blues(shade),
                                             edgecolor="none"))
        ext = np.ptp(mesh.vertices, axis=0) * 100   # cm
        for set_lim in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            set_lim(-ext.max() / 2, ext.max() / 2)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=35, azim=-60)
        ax.set_title(f"{entry.name}\n{ext[0]:.1f} × {ext[1]:.1f} × {ext[2]:.1f} cm", fontsize=9)
        ax.tick_params(labelsize=6)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.04, top=0.86, wspace=0.05)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "walls",
         Path(sys.argv[2] if len(sys.argv) > 2 else "docs/extra_walls_objects.png"))
