"""ONNX Runtime as the engine of `fast` (ml.inference) for the networks where it was measured to
win: the network exported once per input shape (the TorchScript-based exporter, fixed shapes, as
the traces), run by ONNX Runtime's CPU provider with every graph optimisation on.

On an AVX2 CPU without native bfloat16 it ran the same float32 graph in 0.14-0.15x PyTorch's
eager time on busy cores (PyTorch's threads wait on each other's time slices there) and in
0.80-1.09x on idle ones (see ml.inference's defaults), with outputs equal within float32
rounding. Optional: without the package, or when a network does not export, `fast` keeps
PyTorch's path.
"""

from __future__ import annotations

import functools
import io
import logging
from typing import Any

log = logging.getLogger(__name__)

NAME = "onnxruntime"
# An exported graph whose outputs differ from the eager network's by more than this (relative to
# their magnitude) on its first inputs is not used: float32 rounding stays far below it.
AGREEMENT = 1e-3


@functools.cache
def available() -> bool:
    """Whether ONNX Runtime (and onnx, which the exporter needs) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        log.info("ONNX Runtime unavailable (%s): fast keeps PyTorch's path", error)
        return False
    return True


class Session:
    """One exported network for one set of input shapes, called like the module with tensors."""

    def __init__(self, module: Any, inputs: tuple) -> None:
        import onnxruntime
        import torch

        self.names = [f"input_{index}" for index in range(len(inputs))]
        graph = io.BytesIO()
        # Outside inference mode (the exporter traces) and with the eager outputs to compare.
        with torch.inference_mode(False), torch.no_grad():
            expected = module(*inputs)
            torch.onnx.export(
                module, inputs, graph, dynamo=False, opset_version=17,
                input_names=self.names, do_constant_folding=True,
            )  # fmt: skip
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The process's PyTorch thread count (set for the workers), so both engines share alike.
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            graph.getvalue(), options, providers=["CPUExecutionProvider"]
        )
        self.tuple_type = type(expected) if isinstance(expected, tuple | list) else None
        self._check(inputs, expected)

    def __call__(self, *inputs: Any) -> Any:
        import torch

        feed = {name: x.detach().cpu().numpy() for name, x in zip(self.names, inputs, strict=True)}
        outputs = [torch.from_numpy(value) for value in self.session.run(None, feed)]
        return self.tuple_type(outputs) if self.tuple_type else outputs[0]

    def _check(self, inputs: tuple, expected: Any) -> None:
        """Refuse a graph that does not compute what the eager network does (an operation the
        exporter renders differently): the caller falls back."""
        produced = self(*inputs)
        pairs = zip(expected, produced, strict=True) if self.tuple_type else [(expected, produced)]
        for eager, exported in pairs:
            scale = float(eager.abs().max()) or 1.0
            difference = float((eager.float() - exported.float()).abs().max())
            if not difference <= AGREEMENT * scale or exported.shape != eager.shape:
                raise ValueError(f"exported graph differs from eager by {difference:.3g}")


def session(module: Any, inputs: tuple) -> Session | None:
    """An ONNX Runtime session for `module` on inputs of these shapes, or None (logged) when the
    package is missing or the network does not export faithfully."""
    if not available():
        return None
    try:
        return Session(module, inputs)
    except Exception as error:  # any export or runtime failure means: fall back
        log.warning("ONNX Runtime export of %s failed, fast keeps PyTorch: %s",
                    type(module).__name__, error)  # fmt: skip
        return None
