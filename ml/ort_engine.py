"""ONNX Runtime as the engine of `fast` (ml.inference) for the networks where it was measured to
win: the network exported once per input shape (the TorchScript-based exporter, fixed shapes, as
the traces; once for every size where the network says its graph allows it), run by ONNX
Runtime's CPU provider with every graph optimisation on.

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
    """One exported network for one set of input shapes, called like the module with tensors.

    `any_size`: the graph is exported with free heights and widths (a network whose export
    holds at every size, ml.inference's `export_size_multiple`), and `checked_call` checks it once
    against the eager network at each new size, one forward's time rather than an export's."""

    def __init__(self, module: Any, inputs: tuple, any_size: bool = False) -> None:
        import onnxruntime
        import torch

        self.module = module
        self.names = [f"input_{index}" for index in range(len(inputs))]
        free = {
            name: {2: f"height_{name}", 3: f"width_{name}"}
            for name, x in zip(self.names, inputs, strict=True)
            if x.dim() == 4  # images; a class or a latent vector keeps its shape
        }
        graph = io.BytesIO()
        # Outside inference mode (the exporter traces) and with the eager outputs to compare.
        with torch.inference_mode(False), torch.no_grad():
            expected = module(*inputs)
            torch.onnx.export(
                module, inputs, graph, dynamo=False, opset_version=17,
                input_names=self.names, do_constant_folding=True,
                dynamic_axes=free if any_size else None,
            )  # fmt: skip
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The process's PyTorch thread count (set for the workers), so both engines share alike.
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # No spinning once a run ends: its threads would otherwise keep both cores busy for a
        # while, just when compose's numpy threads start (measured: pipeline 1.06-1.09x exact
        # with spinning, against 0.68-0.77x for the network alone).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            graph.getvalue(), options, providers=["CPUExecutionProvider"]
        )
        self.tuple_type = type(expected) if isinstance(expected, tuple | list) else None
        # The graph's outputs for the export's own inputs, computed by the check: the answer to
        # the call that asked for this session (`take_first_outputs`), so it does not run twice.
        self.first_outputs: Any = self._check(inputs, expected)
        self.checked_sizes = {_sizes(inputs)}

    def take_first_outputs(self) -> Any:
        """The outputs the export's check computed, once (None afterwards)."""
        outputs, self.first_outputs = self.first_outputs, None
        return outputs

    def is_checked(self, inputs: tuple) -> bool:
        """Whether the graph was already checked at these inputs' sizes."""
        return _sizes(inputs) in self.checked_sizes

    def checked_call(self, inputs: tuple) -> tuple[bool, Any]:
        """Whether the graph computes what the eager network does at these inputs' sizes, not
        checked yet (`is_checked`; logged when it does not), and the graph's outputs for them
        where it does (else None)."""
        import torch

        sizes = _sizes(inputs)
        try:
            with torch.inference_mode(False), torch.no_grad():
                outputs = self._check(inputs, self.module(*inputs))
        except Exception as error:
            log.warning("ONNX Runtime graph of %s at %s: %s", type(self.module).__name__,
                        sizes, error)  # fmt: skip
            return False, None
        self.checked_sizes.add(sizes)
        return True, outputs

    def __call__(self, *inputs: Any) -> Any:
        import torch

        feed = {name: x.detach().cpu().numpy() for name, x in zip(self.names, inputs, strict=True)}
        outputs = [torch.from_numpy(value) for value in self.session.run(None, feed)]
        return self.tuple_type(outputs) if self.tuple_type else outputs[0]

    def _check(self, inputs: tuple, expected: Any) -> Any:
        """The graph's outputs for `inputs`, or ValueError where they differ from what the eager
        network computed (an operation the exporter renders differently): the caller falls back."""
        produced = self(*inputs)
        pairs = zip(expected, produced, strict=True) if self.tuple_type else [(expected, produced)]
        for eager, exported in pairs:
            scale = float(eager.abs().max()) or 1.0
            difference = float((eager.float() - exported.float()).abs().max())
            if not difference <= AGREEMENT * scale or exported.shape != eager.shape:
                raise ValueError(f"exported graph differs from eager by {difference:.3g}")
        return produced


def _sizes(inputs: tuple) -> tuple:
    return tuple(tuple(x.shape) for x in inputs)


def session(module: Any, inputs: tuple, any_size: bool = False) -> Session | None:
    """An ONNX Runtime session for `module` on inputs of these shapes (of any height and width
    with `any_size`), or None (logged) when the package is missing or the network does not
    export faithfully."""
    if not available():
        return None
    try:
        return Session(module, inputs, any_size)
    except Exception as error:  # any export or runtime failure means: fall back
        log.warning("ONNX Runtime export of %s failed, fast keeps PyTorch: %s",
                    type(module).__name__, error)  # fmt: skip
        return None
