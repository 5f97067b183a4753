"""Loss-curve picture of a training run (OUT/log.jsonl -> PNG), for the model card."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_log(path: str | Path) -> tuple[list[dict], list[dict]]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [r for r in rows if r["split"] == "train"], [r for r in rows if r["split"] == "val"]


def plot_curves(log_path: str | Path, png: str | Path, smooth: int = 25) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    train, val = read_log(log_path)
    keys = [k for k in ("loss", "Lo", "Lgs", "La", "Ls", "Lr", "Lw", "R") if train and k in train[0]]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), dpi=90)
    kernel = np.ones(smooth) / smooth
    for ax, key in zip(axes.ravel(), keys):
        steps = np.array([r["step"] for r in train])
        vals = np.array([r[key] for r in train])
        ax.plot(steps, vals, color="0.8", lw=0.5)
        if len(vals) > smooth:
            ax.plot(steps[smooth - 1:], np.convolve(vals, kernel, mode="valid"), color="C0", label="train")
        if val:
            ax.plot([r["step"] for r in val], [r[key] for r in val], "o-", color="C3", label="val")
        ax.set_title(key)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if axes.ravel()[0].get_legend_handles_labels()[0]:  # a short run has neither a smoothed nor a val curve
        axes.ravel()[0].legend()
    for ax in axes.ravel()[len(keys):]:
        ax.set_axis_off()
    fig.suptitle(f"training curves ({Path(log_path).parent.name}); x = step")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
