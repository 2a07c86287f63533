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
# All twenty, for the fewest: the next block may not fit the freed one's place. PyTorch asks for
# 64-byte alignment, so glibc carves a little more than the block and frees the small remainder
# beside it into its per-thread cache, where it does not merge: while it stays there, the freed
# block cannot merge into the heap's top and the heap grows by a block. Seen here: growth at
# one to three of the first blocks, then two places serving in turn; in full CI runs, at the
# second block and once at the first six (a fewest of five then read 16 384). The cache holds
# at most 7 chunks of a size, so the growth ends.
print(memory.reusing, *(faults_of_a_block() for _ in range(20)))
"""

needs_glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="glibc's mallopt: elsewhere nothing changes"
)


def _blocks_faults(setting: str) -> tuple[str, list[int]]:
    env = {**os.environ, "COLORIA_REUSE_MEMORY": setting}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    reusing, *faults = done.stdout.split()
    return reusing, [int(count) for count in faults]


@needs_glibc
def test_a_freed_block_serves_the_next_one():
    reusing, faults = _blocks_faults("1")
    assert reusing == "True"
    assert min(faults) < 1000, faults


@needs_glibc
def test_off_leaves_glibc_mapping_each_block_afresh():
    reusing, faults = _blocks_faults("0")
    assert reusing == "False"
    assert min(faults) > 10_000, faults


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
