"""Training and validation photos that can be installed offline (`python -m ml.data photos`)."""
