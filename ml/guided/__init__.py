"""Guided colorization: colour that people give, spread over the photo along its edges.

propagate.py solves Levin, Lischinski & Weiss's optimisation; scribbles.py is the `scribbles`
model: strokes and points drawn onto its working grid, then propagated, alone or on top of
another model's result; reference.py is the `reference` model: colours matched, part by part,
from a colour photo of the same kind of scene, then propagated; benchmark.py measures both.
"""
