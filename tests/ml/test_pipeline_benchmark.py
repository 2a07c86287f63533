"""The stage-by-stage pipeline benchmark runs (on a tiny photo: what it measures, not how fast)."""

from __future__ import annotations

import io

from ml import pipeline_benchmark


def test_each_stage_is_measured_and_the_png_is_the_sites():
    out = io.StringIO()
    rows = pipeline_benchmark.measure(models=("scribbles",), sizes_mp=(0.02,), repeats=1, out=out)
    assert len(rows) == 1
    row = rows[0]
    assert all(row[stage] >= 0 for stage in pipeline_benchmark.STAGES)
    assert row["png_mb"] > 0
    assert "scribbles" in out.getvalue()


def test_png_levels_are_compared_on_a_result():
    rows = pipeline_benchmark.measure_png_levels(
        megapixels=0.02, levels=(1, 6), models=("scribbles",), out=io.StringIO()
    )
    assert [row["level"] for row in rows] == [1, 6]
    assert rows[1]["mb"] <= rows[0]["mb"] * 1.05  # level 6 is never much larger


def test_compose_is_timed_compiled_and_by_numpy_on_both_kinds_of_scan():
    from ml import compose_kernels

    kernels = compose_kernels.kernels
    out = io.StringIO()
    rows = pipeline_benchmark.measure_compose(sizes_mp=(0.02,), model="zhang-eccv16", out=out)
    assert [row["kind"] for row in rows] == ["colour scan", "gray scan"]
    assert all(row["compiled"] > 0 and row["numpy"] > 0 for row in rows)
    assert compose_kernels.kernels is kernels  # compiled again afterwards
