#!/usr/bin/env python3
"""Fails unless every executed notebook given holds at least one image/png output.

Called by .ci/run on the executed copies of notebooks/*.ipynb: a notebook whose figures are drawn
on a non-display backend, or never shown, runs without error but holds no image, and this says
so. Standard library only (the notebook format is JSON).

Usage: scripts/check-notebook-images.py EXECUTED.ipynb...
"""

import json
import sys


def png_outputs(path):
    """The number of image/png outputs in the notebook at `path`."""
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    return sum(
        1
        for cell in notebook.get("cells", [])
        if cell.get("cell_type") == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    )


def main(paths):
    if not paths:
        print("check-notebook-images: no notebooks given", file=sys.stderr)
        return 2
    failed = []
    for path in paths:
        try:
            count = png_outputs(path)
        except (OSError, ValueError) as e:
            print(f"{path}: cannot be read as a notebook: {e}", file=sys.stderr)
            failed.append(path)
            continue
        if count == 0:
            print(f"{path}: no image/png output (figures not shown inline?)", file=sys.stderr)
            failed.append(path)
        else:
            print(f"{path}: {count} image/png output(s)")
    if failed:
        print(f"FAILED: {len(failed)} of {len(paths)} notebooks show no figure", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
