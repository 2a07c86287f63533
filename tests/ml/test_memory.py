"""ml.memory: a process that runs networks keeps its freed blocks for the next ones (no page
fault when a block of the same size comes again), unless COLORIA_REUSE_MEMORY=0."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

# In a process of its own: the setting is the whole process's. A 64 MB block (16 384 pages of
# 4 KB) allocated and written, then again: the page faults of the later ones are printed.
SCRIPT = """
import resource
import torch
from ml import memory

memory.reuse_freed_blocks()


def block():
    torch.empty(16 * 2**20).fill_(1.0)


def faults_of_a_block():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


block()
# The fewest of five: the second block may not fit the first's freed place (PyTorch asks for
# 64-byte alignment, a little more than the block, and a small allocation may follow the freed
# block), so the heap grows once by a block; from then on the two places serve in turn.
print(memory.reusing, min(faults_of_a_block() for _ in range(5)))
"""

needs_glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="glibc's mallopt: elsewhere nothing changes"
)


def _second_blocks_faults(setting: str) -> tuple[str, int]:
    env = {**os.environ, "COLORIA_REUSE_MEMORY": setting}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    reusing, faults = done.stdout.split()
    return reusing, int(faults)


@needs_glibc
def test_a_freed_block_serves_the_next_one():
    reusing, faults = _second_blocks_faults("1")
    assert reusing == "True"
    assert faults < 1000


@needs_glibc
def test_off_leaves_glibc_mapping_each_block_afresh():
    reusing, faults = _second_blocks_faults("0")
    assert reusing == "False"
    assert faults > 10_000


@needs_glibc
def test_a_process_turns_it_on_when_it_loads_its_first_model():
    script = (
        "import ml\nfrom ml import memory, runtime\nprint(memory.reusing)\n"
        "runtime.load_predictor(ml.get_spec('zhang-eccv16-coloria'))\nprint(memory.reusing)"
    )
    env = {**os.environ, "COLORIA_REUSE_MEMORY": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def test_the_kept_free_memory_fits_mallopts_int():
    from ml import memory

    assert 0 < memory.KEEP_FREE_BYTES < 2**31


def test_a_setting_that_is_not_on_or_off_is_refused(monkeypatch):
    from ml import config

    monkeypatch.setenv("COLORIA_REUSE_MEMORY", "sometimes")
    with pytest.raises(ValueError, match="COLORIA_REUSE_MEMORY must be auto, on or off"):
        config._from_environment()
    monkeypatch.setenv("COLORIA_REUSE_MEMORY", "0")
    assert config._from_environment().reuse_memory == "off"
