"""python -m ml.benchmark --inference: each mode timed in fresh processes of its own, as a worker
runs it, and the table's ratios computed from their medians."""

from __future__ import annotations

import io

from ml import benchmark_inference
from ml.benchmark_inference import MODES


def _run(net: list[float], pipe: list[float], path: str, peak: float) -> dict:
    return {"net": net, "pipe": pipe, "pipe_large": [t * 10 for t in pipe], "load_s": 1.0,
            "load_warm_s": 2.0, "peak_rss_mb": peak, "peak_rss_large_mb": peak * 2,
            "path": path}  # fmt: skip


def test_each_modes_times_are_the_medians_over_its_processes():
    runs = [  # in the order exact, fast, fast, exact
        _run([4.0, 5.0], [6.0, 6.0], "exact", 900),
        _run([1.0, 3.0], [2.0, 2.0], "fast (float32, onnxruntime)", 1500),
        _run([2.0, 2.0], [2.5, 2.5], "fast (float32, onnxruntime)", 1600),
        _run([6.0, 4.5], [5.0, 7.0], "exact", 950),
    ]
    assert benchmark_inference.ORDER == ("exact", "fast", "fast", "exact")
    row = benchmark_inference._combined(runs)
    assert (row["net_exact"], row["net_fast"]) == (4.75, 2.0)
    assert (row["pipe_exact"], row["pipe_fast"]) == (6.0, 2.25)
    assert (row["pipe_large_exact"], row["pipe_large_fast"]) == (60.0, 22.5)
    assert [load["peak_rss_mb"] for load in row["loads"]] == [900, 1500]  # each mode's first
    assert row["path"] == "fast (float32, onnxruntime)"


def test_a_real_model_is_measured_in_its_own_processes():
    out = io.StringIO()
    (row,) = benchmark_inference.run(
        ["zhang-eccv16-coloria"], repeats=1, device="cpu", installed=False, out=out
    )
    assert row["loads"][0]["path"] == "exact"
    assert row["path"].startswith("fast (")
    # exact on glibc's default heap, as the official code runs; fast as a Coloria worker.
    assert [load["reuse_memory"] for load in row["loads"]] == [False, True]
    times = [row[f"{part}_{mode}"] for part in ("net", "pipe", "pipe_large") for mode in MODES]
    assert min(times) > 0
    # Each mode coloured the 12-megapixel photo whole, and its peak memory counts it.
    for load in row["loads"]:
        assert tuple(load["large_size"]) == benchmark_inference.LARGE_PHOTO
        assert load["peak_rss_large_mb"] >= load["peak_rss_mb"]
    assert "exact fast fast exact" in out.getvalue()
    table_row = out.getvalue().strip().splitlines()[-1]
    assert table_row.startswith("zhang-eccv16-coloria")
    assert f"{row['net_fast'] / row['net_exact']:5.2f}" in table_row
    assert f"{row['pipe_large_fast'] / row['pipe_large_exact']:5.2f}" in table_row


def test_the_random_weights_are_the_same_at_every_run(tmp_path):
    # The same weights, so the same colours: a photo's out-of-gamut colours, which compose
    # fits one by one, weigh on the 12-megapixel pipeline.
    files = []
    for run in ("first", "second", "other seed"):
        directory = tmp_path / run
        directory.mkdir()
        benchmark_inference.random_weights(
            "coloria-lite", directory, seed=7 if run == "other seed" else 0
        )
        (written,) = directory.iterdir()
        files.append(written.read_bytes())
    assert files[0] == files[1] and files[0] != files[2]
