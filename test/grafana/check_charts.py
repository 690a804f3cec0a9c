#!/usr/bin/python3
"""The demo's charts (scripts/demo_charts.py) exist, are PNG images of the size drawn and not blank.

    check_charts.py DIR
"""
import os
import sys

import matplotlib.image as mpimg

EXPECTED = ("forecast_band.png", "drift_per_feature.png", "skill_over_time.png")
failures = 0
for name in EXPECTED:
    path = os.path.join(sys.argv[1], name)
    if not os.path.exists(path):
        print(f"FAIL {name}: not written")
        failures += 1
        continue
    with open(path, "rb") as f:
        magic = f.read(8)
    img = mpimg.imread(path)
    # a drawn chart has many colours; a blank figure has one
    colours = len({tuple(px) for px in img.reshape(-1, img.shape[-1])[::7]})
    if magic != b"\x89PNG\r\n\x1a\n" or img.shape[:2] != (450, 1000) or colours < 20:
        print(f"FAIL {name}: {img.shape[1]}x{img.shape[0]}, {colours} colours")
        failures += 1
    else:
        print(f"ok   {name}: {img.shape[1]}x{img.shape[0]} PNG, {colours} colours")
sys.exit(1 if failures else 0)
