"""Training pipelines: `python -m ml.train FAMILY --config FILE`.

Every family shares `common.py` (config, seeding, resumable checkpoints, CSV logs, validation on
the photo set's val split, torchrun data parallelism) and `datasets.py` (any folder of photos).
"""
