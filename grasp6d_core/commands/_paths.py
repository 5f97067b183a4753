"""Checks shared by commands that write results: the output folder must exist or be creatable, and writable,
before any slow work starts (a detection run should not fail on its first dump after loading the model)."""
from __future__ import annotations

import tempfile
from pathlib import Path


def output_dir(path: str | Path, flag: str = "--out") -> Path:
    """Create ``path`` (and parents) and prove it writable; OSError naming ``flag`` and the path otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A real write, not os.access: it also catches read-only mounts, and root passes access checks.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OSError(f"{flag} {path}: cannot write there ({reason}"
                      f"{': ' + str(error.filename) if error.filename and str(error.filename) != str(path) else ''})") from None
    return path
