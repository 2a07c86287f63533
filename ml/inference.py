"""How a model's network runs: `exact` or `fast`, chosen per model (COLORIA_INFERENCE and
COLORIA_INFERENCE_<MODEL>, else the model's measured default below).

`exact` is the float32 eager network, bit for bit what the parity tests check. `fast` is the
best path measured on this project's CPUs (python -m ml.benchmark --inference): the network in
channels-last memory format, traced and frozen by TorchScript (oneDNN folds the spectral and
weight norms, BatchNorm and the constant arithmetic into the convolutions; in float32, a
network naming `winograd_modules`, `onednn_modules` or `int8_modules` runs eagerly: 3 x 3
convolutions by Winograd (ml.winograd), linear layers on oneDNN or in int8 on the CPU (ml.onednn,
ml.int8); a network's `use_fast_forms` may reorder its own arithmetic), under bfloat16 autocast
where the processor computes bfloat16 natively (AVX-512 BF16 or AMX; float32 otherwise, or when
COLORIA_BF16=0), and float16 autocast on CUDA. A network names the
submodules that must stay float32 under that autocast (its `float32_modules`: where low
precision moved the colours most, as measured against `exact`). A trace holds for one input
shape, so traces are kept by shape, a few at a time.

A predictor wraps its network once (`prepare(net, device)`, `exact`) and calls what it returns,
with tensors only (what is not a tensor, a temperature, stays outside in the eager code around
it); ml.runtime switches the loaded predictor to the model's mode (`use`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections import OrderedDict
from typing import Any

from ml import config
from ml.memory import resident_bytes, trim_heap

log = logging.getLogger(__name__)

EXACT, FAST = "exact", "fast"
EXACT_LABEL = "exact (float32, eager)"
TORCH, ORT = "torch", "onnxruntime"

# Models whose `fast` path held the tolerance (mean CIEDE2000 <= 0.5 and max <= 3 against
# `exact`, on the validation photos) and won the time: they run `fast` unless told otherwise.
# Measured on the 100 validation photos (python -m ml.benchmark --tolerance): the Keras CNN's
# graph gives the eager numbers (0.000 mean and max) at 0.4-0.66x the network time. Channels-last
# traces alone won only 0.7-1.1x; bfloat16 0.3-0.55x but out of the tolerance for most (see
# LOW_PRECISION_BY_DEFAULT); torch.compile (inductor) 0.92-0.99x for ECCV16.
# ECCV16-Coloria and Coloria-Lite on ONNX Runtime (ONNXRUNTIME_BY_DEFAULT, float32 on a CPU
# without native bfloat16): 0.15x and 0.14x the network time on busy cores (load 3-10: PyTorch's
# two threads wait on each other's time slices, ONNX Runtime's do not), but 1.09x and 0.80x on an
# idle machine (python -m ml.benchmark --inference, load 0.9: exact 63 / 68 ms, ORT 69 / 54 ms).
# They run it for its steadiness where a worker shares its cores (the embedded default: web
# server and worker on one machine); the idle figures do not meet #23's 0.7x. On the 100
# validation photos ECCV16-Coloria mean 0.000, max 0.96, worst photo 0.000; Coloria-Lite mean
# 0.000, max 1.15, worst photo 0.000 (float32 rounding moving a few pixels across a colour bin).
# DeOldify Artistic and Stable, measured idle on a 2-core AMD EPYC with AVX-512 (python -m
# ml.benchmark --inference, medians of 5, exact and fast in turns), float32 fast against exact,
# network / whole pipeline: Artistic 0.66 / 0.70 at render factor 21, 0.66 / 0.66 at 35; Stable
# 0.72 / 0.61 and 0.68 / 0.67. Tolerance at the default render factor 35, random weights in the
# official layout (no official weights reachable here), the first 20 validation photos (a
# photo pair takes about 25 s): Artistic mean 0.000, max 0.96; Stable mean 0.000, max 0.73.
# DDColor runs eagerly: its fast forms (DDColor.use_fast_forms), Winograd's convolutions in the
# pixel decoder, its encoder's third-stage MLPs in int8 (ml.int8), its other linear layers on
# oneDNN (ml.onednn). 2-core Zen 4 EPYC, fresh processes, 512 x 512, network / pipeline / 12 MP:
# DDColor-T 0.48 / 0.43 / 0.55, DDColor-L 0.47 / 0.51 / 0.58 (0.55 and 0.49 without oneDNN's).
# 100 validation photos, weights made to vary as trained ones (vary_like_trained): DDColor-T mean
# 0.009, max 1.72; DDColor-L 0.011, 1.81 (its whole encoder in int8 reached max 3.51, out of it).
# BigColor runs eagerly: its fast forms (BigColor.use_fast_forms: the generator's upsampling
# convolutions from the small maps, ml.upsampled_conv, 16 multiply-adds where they took 36; its
# shortcuts before the upsampling; each conditional batch norm in one pass) and Winograd's
# convolutions. 2-core AVX-512 EPYC (Zen 5), fresh processes, network / pipeline / 12 MP:
# 0.39 / 0.40 / 0.56 against exact on glibc's default heap (ECCV16 0.69 / 0.72 / 0.81, the
# others in the README); 100 validation photos (random official-layout weights) mean 0.000,
# max 0.68.
# Measured the same way (fresh processes, exact fast fast exact, medians of 6): ECCV16-Coloria
# 0.68 / 0.79 (network / pipeline), Coloria-Lite on ONNX Runtime 0.75-0.98 / 0.88-1.05 (bfloat16
# trace 0.63 / 0.64, float32 trace 0.85 / 0.84; exact itself varied 42-61 ms between runs), the
# CNN 0.66 / 0.81, DeOldify-Artistic 0.71 / 0.70 and Stable 0.73 / 0.69 at render factor 21,
# 0.71 / 0.72 and 0.74 / 0.75 at 35 (medians of 4).
# Both modes in one process in turns (the earlier method) had made exact slower beside ONNX
# Runtime (DDColor-T exact 2.3-2.7 s there, 1.8 s alone), flattering ONNX Runtime's ratios.
# On a 2-core AVX2 EPYC (no AVX-512), each process settled first (ml.benchmark_inference's
# SETTLING), network / pipeline / 12-megapixel pipeline, on ONNX Runtime once it no longer
# trimmed the C heap at every call (Runner._session): ECCV16-Coloria 0.62 / 0.74 / 0.81 (no
# bfloat16 there; 1.04 / 1.11 / 1.24 before), Coloria-Lite 0.71 / 0.80 / 0.82 (0.90 / 0.96 /
# 1.08 before), DDColor-T 0.70 / 0.67 / 0.78, BigColor 0.68-0.77 / 0.67-0.80 / 0.83-0.84
# (its runs vary by 10 %); DeOldify-Stable (rf 21, its trace) 0.68 / 0.68 / 0.74.
# Winograd's 3 x 3 convolutions (ml.winograd, eager: Runner.winograd), idle, settled (python -m
# ml.benchmark --inference), network / pipeline / 12-megapixel pipeline against exact: on a
# 2-core AVX-512 EPYC ECCV16 0.66 / 0.69 / 0.75, DeOldify-Artistic 0.55 / 0.55 / 0.54 at rf 21
# (traced: SIGGRAPH17 0.63 / 0.67 / 0.72, Stable 0.53 / 0.54 / 0.59; plain traces 0.69-1.0); on
# a 2-core AVX2 EPYC ECCV16 0.55 / 0.54 / 0.72, SIGGRAPH17 0.69 / 0.64 / 0.93, Artistic 0.58 /
# 0.66 / 0.60 (the 12-megapixel photo's own stages, the same in both modes, weigh most there).
# Against exact on the validation photos (random official-layout weights): ECCV16 mean 0.000,
# max 0.73, SIGGRAPH17 0.000, 0.86 (100 photos); at render factor 35, 20 photos, Artistic 0.000,
# 0.83, Stable 0.000, 0.71.
FAST_BY_DEFAULT: frozenset[str] = frozenset(
    {
        "zhang-eccv16",
        "zhang-siggraph17",
        "cnn-coloria",
        "zhang-eccv16-coloria",
        "coloria-lite",
        "deoldify-artistic",
        "deoldify-stable",
        "ddcolor-tiny",
        "ddcolor-tiny-coloria",
        "ddcolor-paper",
        "ddcolor-modelscope",
        "ddcolor-artistic",
        "bigcolor",
    }
)

# Models whose `fast` path runs in low precision (bfloat16 on the CPU) under COLORIA_BF16=auto:
# it held the tolerance and won the time; the others run `fast` in float32 unless
# COLORIA_BF16=on. Every layer in bfloat16 left the tolerance on the shipped weights
# (ECCV16-Coloria: mean 0.10, max 5.9; Coloria-Lite: mean 0.60, max 29); with their
# float32_modules (ECCV16's first block, Coloria-Lite's encoder) they hold it on the 100
# validation photos: ECCV16-Coloria mean 0.029, max 1.86, worst photo 0.080; Coloria-Lite mean
# 0.055, max 2.69, worst photo 0.094 (bfloat16 emulated on an AVX2 CPU: the same roundings,
# another summation order). Random test networks for ECCV16, SIGGRAPH17, DeOldify and BigColor
# left it in bfloat16; no official weights were at hand.
# Measured on a CPU with native bfloat16 (AMD EPYC with AVX-512 BF16, 2 cores, idle; python -m
# ml.benchmark --inference, network time against exact, three runs): ECCV16-Coloria 0.60-0.68x
# in bfloat16 against 0.90-0.92x on ONNX Runtime in float32, so it keeps bfloat16; Coloria-Lite
# 0.75-0.86x in bfloat16 (its float32 encoder is most of the work) against 0.61-0.70x on ONNX
# Runtime, so it runs float32 on ONNX Runtime (nearer exact as well).
LOW_PRECISION_BY_DEFAULT: frozenset[str] = frozenset({"zhang-eccv16-coloria"})

# Models whose float32 `fast` path runs on ONNX Runtime (ml.ort_engine) rather than PyTorch's
# trace, where COLORIA_FAST_ENGINE=auto and the package is installed. Measured on an AVX2 AMD
# EPYC (no native bfloat16), the network alone, exact eager against ONNX Runtime 1.32 (CPU
# provider, every graph optimisation, 2 intra-op threads) and OpenVINO 2026.4 (CPU, f32 hint,
# 2 threads), interleaved in one process, medians of 7 after a warm-up, load average 3-5 (busy
# cores: see FAST_BY_DEFAULT for the idle figures, near 1x; the rows below may shrink as much):
#   ECCV16-Coloria 256 x 256 (shipped):   exact 781 ms, ORT 115 (0.15x), OpenVINO 109 (0.14x)
#   Coloria-Lite 256 x 352 (shipped):     exact 726 ms, ORT 100 (0.14x), OpenVINO  82 (0.11x)
#   SIGGRAPH17 256 x 256 (random):        exact 3936 ms, ORT 2613 (0.66x), OpenVINO 2425 (0.62x)
#   DeOldify Artistic 336 x 336 (rf 21, random, median of 3, load 1.4-3.5):
#                                         exact 11952 ms, ORT 8744 (0.73x), OpenVINO 6755 (0.57x)
#   BigColor 256 x 352 (random, median of 3, load 8-11):
#                                         exact 18127 ms, ORT 9944 (0.55x), OpenVINO 8284 (0.46x)
# outputs equal within float32 rounding (max abs difference 0.5e-6-2e-5). On the 100
# validation photos, `fast` on ONNX Runtime against `exact`: see FAST_BY_DEFAULT. DDColor-T (512,
# AVX-512 EPYC, fresh processes) ran 0.80x the network there (0.74x with its fast forms), its
# arena holding the largest activations (3.5 GB resident against exact's 1.2), DDColor-L
# 0.93-0.97x with 5.6 GB: both run eagerly (0.63x, 1.8 GB for DDColor-T). BigColor ran 0.76x
# (AVX-512) and 0.65x (AVX2) there, until its fast forms (BigColor.use_fast_forms): eagerly,
# 0.50 s a call against 0.57 s for their export on ONNX Runtime (one process each, AVX-512).
# OpenVINO 2026.4 (CPU plugin, f32, 2 threads, the same graph at a static size), measured alone,
# network / pipeline: BigColor 0.70 / 0.70, SIGGRAPH17 0.77, ECCV16 1.01, DeOldify-Artistic (rf
# 21) 0.69 / 0.73, DDColor-T 0.70 / 0.78, 2-3x the load + warm-up: not worth a 59 MB wheel. Where
# bfloat16 runs (LOW_PRECISION_BY_DEFAULT) its trace stays: it won for ECCV16-Coloria.
ONNXRUNTIME_BY_DEFAULT: frozenset[str] = frozenset({"zhang-eccv16-coloria", "coloria-lite"})

# Traces kept per network (each holds its own folded copy of the weights).
MAX_TRACES = 3
# ONNX Runtime sessions kept per network: more, as an export costs more than a trace (2-6 s on
# a 2-core CPU) and Coloria-Lite's input follows the photo's aspect (multiples of 32), while a
# session holds only its graph's weights (8 MB for ECCV16-Coloria, 15 MB for Coloria-Lite).
MAX_SESSIONS = 8


def mode_for(key: str) -> str:
    """ "exact" or "fast" for a model key: its own setting, else the process's, else its
    measured default."""
    settings = config.settings
    chosen = settings.inference_overrides.get(key) or settings.inference
    return chosen or (FAST if key in FAST_BY_DEFAULT else EXACT)


@functools.cache
def _cpu_has_bf16() -> bool:
    """Whether the processor computes bfloat16 natively (AVX-512 BF16 or AMX): elsewhere oneDNN
    emulates it, slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    with contextlib.suppress(AttributeError, RuntimeError):
        return any(getattr(torch.cpu, name)() for name in checks)
    try:  # an older PyTorch without those: the kernel's flags
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def engine_for(key: str) -> str:
    """The engine of a model's float32 `fast` path: "onnxruntime" or "torch" (COLORIA_FAST_ENGINE,
    else the measured default)."""
    setting = config.settings.fast_engine
    if setting == "auto":
        return ORT if key in ONNXRUNTIME_BY_DEFAULT else TORCH
    return setting


def wants_low_precision(key: str) -> bool:
    """Whether a model's `fast` path may use low precision (COLORIA_BF16)."""
    setting = config.settings.bf16
    return setting == "on" or (setting == "auto" and key in LOW_PRECISION_BY_DEFAULT)


def low_precision(device: str, wanted: bool = True) -> Any:
    """The autocast dtype `fast` uses on a device, or None for float32."""
    import torch

    if not wanted or config.settings.bf16 == "off":
        return None
    if device.startswith("cuda"):
        return torch.float16
    return torch.bfloat16 if _cpu_has_bf16() else None


class Runner:
    """A network's forward (or another of its methods) as its mode runs it. A predictor makes
    one at load time (`prepare`, `exact`); ml.runtime switches it to the model's mode."""

    def __init__(
        self,
        module: Any,
        device: str,
        *,
        method: str = "forward",
        jit: bool = True,
        low_precision: bool = True,
    ) -> None:
        self.module, self.method, self.device = module, method, str(device)
        self.can_jit, self.can_lower = jit, low_precision
        self.fast = False
        self.dtype: Any = None
        self.engine = TORCH
        self.ran_onnx: bool | None = None  # whether the last call ran ONNX Runtime (None: none yet)
        self._traces: OrderedDict[tuple, Any] = OrderedDict()
        # Memory each kept trace or session holds beyond the module's weights (ml.runtime counts
        # it in the model's size): how much the process grew while it was made and, for an ONNX
        # Runtime session, whenever a run grew its arena. An estimate: the process is measured.
        self._held: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def switch(self, mode: str, *, lower: bool = True, engine: str = TORCH) -> None:
        """Run as `mode` from now on ("exact" or "fast"; `lower`: in low precision where the
        device has it; `engine`: what runs `fast` in float32 on the CPU)."""
        import torch

        with self._lock:
            self.fast = mode == FAST
            self.engine = engine
            wanted = self.fast and self.can_lower and lower
            self.dtype = low_precision(self.device, wanted) if wanted else None
            self._traces.clear()
            self._held.clear()
            _keep_float32(self.module, self.device, self.dtype is not None)
            for kernels in _eager_kernels():  # installed at the first eager `fast` call
                kernels.remove(self.module)
            getattr(self.module, "use_fast_forms", lambda fast: None)(self.fast)
            layout = torch.channels_last if self.fast else torch.contiguous_format
            self.module.to(memory_format=layout)

    @property
    def jit(self) -> bool:
        return self.fast and self.can_jit

    @property
    def kernels(self) -> list[Any]:
        """What float32 `fast` installs on the network and runs eagerly, not traced (those it
        opts in to): Winograd's convolutions (ml.winograd: ECCV16 0.57x exact, 0.63x traced;
        DeOldify 0.50x, 0.49x), oneDNN's products and int8 linear layers on the CPU (ml.onednn,
        ml.int8). A frozen trace's constants (4x the weights) outlive it (pytorch#96726)."""
        if not self.fast or self.dtype is not None or (self.onnx and self.ran_onnx is not False):
            return []
        return [k for k in _eager_kernels(self.device) if getattr(self.module, k.ATTRIBUTE, ())]

    @property
    def winograd(self) -> bool:
        return any(k.__name__ == "ml.winograd" for k in self.kernels)

    @property
    def onnx(self) -> bool:
        """Whether ONNX Runtime runs the network (float32 `fast` on the CPU, where asked): until
        an export fails, which falls back to PyTorch's path for good."""
        from ml import ort_engine

        wanted = self.fast and self.engine == ORT and self.dtype is None
        return wanted and self.device == "cpu" and ort_engine.available()

    @property
    def label(self) -> str:
        """What runs, in words (a result's details): what the last call ran, where the size
        of the inputs decides (`onnx_max_pixels`)."""
        if not self.fast:
            return EXACT_LABEL
        if self.onnx and self.ran_onnx is not False:
            return f"fast (float32, {ORT})"
        parts = [str(self.dtype).removeprefix("torch.") if self.dtype else "float32"]
        kernels = [k.__name__.removeprefix("ml.") for k in self.kernels]
        parts += ["channels-last"] + ["jit-frozen"] * (self.jit and not kernels) + kernels
        return f"fast ({', '.join(parts)})"

    def __call__(self, *inputs: Any) -> Any:
        import torch

        if not self.fast:
            return getattr(self.module, self.method)(*inputs)
        self.ran_onnx = self.onnx and _onnx_serves(self.module, inputs)
        if self.ran_onnx:
            shapes = _session_key(self.module, inputs)
            session, outputs = self._session(shapes, inputs)
            if session is not None and outputs is None:
                with self._holding(shapes):  # a larger input grows the session's arena
                    outputs = session(*inputs)
            if session is not None:
                return outputs
            self.ran_onnx = False
        inputs = tuple(_channels_last(x) for x in inputs)
        kernels = self.kernels
        for each in kernels:
            each.install(self.module)
        if not self.jit or kernels:
            with torch.inference_mode(), self._autocast():
                return _as_float(getattr(self.module, self.method)(*inputs))
        trace = self._trace(inputs)
        # A network with float32 submodules runs its trace outside autocast: the trace holds
        # its casts, and TorchScript's autocast pass would add one before every convolution,
        # the float32 submodules' too. The others keep that pass (DeOldify's spectral norm,
        # float32 in its own autocast-off block, traces with a mixed-dtype dot otherwise).
        keeps_casts = bool(float32_modules(self.module))
        with torch.inference_mode(), contextlib.nullcontext() if keeps_casts else self._autocast():
            return _as_float(trace(*inputs))

    def held_bytes(self) -> int:
        """Bytes the kept traces and ONNX Runtime sessions hold beyond the module's own weights
        (a trace's folded copy of them; Winograd's transformed filters; a session's graph and
        its arena, which keeps the largest
        activations it has needed: 1.5-2.5 GB for DDColor at 512 x 512). Without the lock, which
        an export holds for seconds: the model cache asks after every prediction."""
        kept, held = list(self._traces), dict(self._held)  # one step each under the GIL
        installed = sum(k.held_bytes(self.module) for k in _eager_kernels())
        return sum(held.get(shapes, 0) for shapes in kept) + installed

    def _autocast(self) -> Any:
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.split(":")[0], dtype=self.dtype)

    def _session(self, shapes: tuple, inputs: tuple) -> tuple[Any, Any]:
        """The ONNX Runtime session for these inputs' shapes, exported on first use (kept like
        the traces), and its outputs for `inputs` where checking the graph at their size
        computed them (else None); (None, None), and PyTorch's path from then on, where the
        export fails or the graph does not hold at this size (logged)."""
        from ml import ort_engine

        with self._lock:
            session, outputs = self._traces.get(shapes), None
            if session is None:
                target = self.module if self.method == "forward" else _method_module(self)
                for kernels in _eager_kernels():  # installed by a larger input's eager run
                    kernels.remove(self.module)
                with self._holding(shapes, trim=True):
                    session = ort_engine.session(target, inputs, any_size=shapes[1])
                if session is None:
                    self._held.pop(shapes, None)
                    self.engine = TORCH
                    return None, None
                self._keep(shapes, session, MAX_SESSIONS)
                outputs = session.take_first_outputs()
            elif not session.is_checked(inputs):
                # The check's eager run, its memory handed back. Only then: trimming the heap
                # at every call would hand back the free blocks the stages around the network
                # reuse, and they would fault their pages in again (ECCV16-Coloria, 12 MP
                # photo: 2773 page faults a call decoding the logits, against 51 in exact).
                with self._holding(shapes, trim=True):
                    holds, outputs = session.checked_call(inputs)
                if not holds:
                    self.engine = TORCH
                    return None, None
            self._traces.move_to_end(shapes)
            return session, outputs

    def _trace(self, inputs: tuple) -> Any:
        """The frozen trace for these inputs' shapes, made on first use (a few forwards' time)."""
        import torch

        shapes = tuple((tuple(x.shape), x.dtype) for x in inputs)
        with self._lock:
            trace = self._traces.get(shapes)
            if trace is None:
                target = self.module if self.method == "forward" else _method_module(self)
                keeps_casts = bool(float32_modules(self.module))
                recording = _casts_as_traced() if keeps_casts else contextlib.nullcontext()
                # Outside inference mode: TorchScript cannot freeze a graph traced inside it.
                grad, held = torch.no_grad(), self._holding(shapes, trim=True)
                with torch.inference_mode(False), grad, self._autocast(), recording, held:
                    trace = torch.jit.freeze(torch.jit.trace(target, inputs, check_trace=False))
                self._keep(shapes, trace, MAX_TRACES)
            self._traces.move_to_end(shapes)
            return trace

    @contextlib.contextmanager
    def _holding(self, shapes: tuple, trim: bool = False) -> Any:
        """Counts what the process grew by in the block as held by the trace or session for
        `shapes` (made or run in it; `trim`: the C heap's free pages handed back first, where an
        eager run or an export left them). Two threads at once may count each other's growth or
        lose one count: an estimate either way, as the process is what is measured."""
        before = resident_bytes()
        yield
        if trim:
            trim_heap()
        grown = resident_bytes() - before
        if grown > 0:
            self._held[shapes] = self._held.get(shapes, 0) + grown

    def _keep(self, shapes: tuple, made: Any, most: int) -> None:
        """Keep a new trace or session, forgetting the least recently used beyond `most`."""
        self._traces[shapes] = made
        while len(self._traces) > most:
            oldest, _ = self._traces.popitem(last=False)
            self._held.pop(oldest, None)


def _eager_kernels(device: str = "cpu") -> tuple[Any, ...]:
    from ml import int8, onednn, winograd  # imported on use, as torch is

    on_cpu = (onednn, int8) if device == "cpu" else ()
    return winograd, *(kernel for kernel in on_cpu if kernel.available())


def _exports_any_size(module: Any, inputs: tuple) -> bool:
    """Whether one ONNX export serves every size of these inputs: the network says that its
    graph holds at every height and width that are multiples of its `export_size_multiple`
    (where its padding does not depend on the size), and these are."""
    multiple = getattr(module, "export_size_multiple", 0)
    images = [x for x in inputs if x.dim() == 4]  # the others (a class, a latent) have no size
    return bool(multiple and images) and all(
        x.shape[2] % multiple == 0 and x.shape[3] % multiple == 0 for x in images
    )


def _onnx_serves(module: Any, inputs: tuple) -> bool:
    """Whether ONNX Runtime runs inputs of this size: up to the network's `onnx_max_pixels`
    (height x width) where it declares one. ONNX Runtime's arena keeps the largest activations
    it has needed for as long as the model stays loaded, where PyTorch hands them back after
    each run: DDColor at 512 x 512 holds 2.4 GB more than the eager network, at 1024 x 1024
    7 GB, and handing it back after each run (the arena's shrinkage) cost more time than ONNX
    Runtime saved. Larger inputs take PyTorch's path."""
    most = getattr(module, "onnx_max_pixels", 0)
    return not most or all(x.dim() < 2 or x.shape[-2] * x.shape[-1] <= most for x in inputs)


def _session_key(module: Any, inputs: tuple) -> tuple:
    """What an ONNX Runtime session is kept by: its inputs' shapes and dtypes, without their
    heights and widths where one export serves every size (the key's second item says so)."""
    any_size = _exports_any_size(module, inputs)
    return (ORT, any_size, *((_shape(x, any_size), x.dtype) for x in inputs))


def _shape(x: Any, any_size: bool) -> tuple:
    return tuple(x.shape[:2]) if any_size and x.dim() == 4 else tuple(x.shape)


@contextlib.contextmanager
def _casts_as_traced() -> Any:
    """The trace records autocast's casts as they ran (the float32 submodules' inputs cast up,
    their own operations left alone): TorchScript's autocast pass, on by default, would put a
    cast before every convolution instead, blind to where autocast was off."""
    import torch

    previous = torch._C._jit_set_autocast_mode(False)
    try:
        yield
    finally:
        torch._C._jit_set_autocast_mode(previous)


FLOAT32_ATTRIBUTE = "float32_modules"


def float32_modules(module: Any) -> list[Any]:
    """The submodules a network declares precision-sensitive (its class's `float32_modules`,
    names as in its state_dict): under `fast`'s low precision they run in float32."""
    return [module.get_submodule(name) for name in getattr(module, FLOAT32_ATTRIBUTE, ())]


def _keep_float32(module: Any, device: str, lowered: bool) -> None:
    """Run the declared float32 submodules in float32 while `lowered` (inputs cast up, autocast
    off inside them: the trace records the casts and the float32 ops); otherwise, `exact` too,
    each runs its class's own forward."""
    for submodule in module.modules():
        wrapped = vars(submodule).get("forward")
        if isinstance(wrapped, functools.partial) and wrapped.func is _in_float32:
            del submodule.forward
    for submodule in float32_modules(module) if lowered else ():
        submodule.forward = functools.partial(_in_float32, submodule, device)


def _in_float32(submodule: Any, device: str, *inputs: Any) -> Any:
    import torch

    inputs = tuple(_up(x) for x in inputs)
    with torch.autocast(device.split(":")[0], enabled=False):
        return type(submodule).forward(submodule, *inputs)


def _up(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    return value


def _method_module(runner: Runner) -> Any:
    """A module whose forward is another method of the runner's (ECCV16's logits)."""
    import torch

    class Method(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = runner.module

        def forward(self, *inputs: Any) -> Any:
            return getattr(self.inner, runner.method)(*inputs)

    return Method().eval()


def prepare(
    module: Any,
    device: Any,
    *,
    method: str = "forward",
    jit: bool = True,
    low_precision: bool = True,
) -> Runner:
    """`module`'s `method` (called with tensors only), `exact` until `use(predictor, mode)`
    switches it. `jit` and `low_precision` say which parts of `fast` a network keeps (those
    that won on it and held the tolerance): without `jit`, what ONNX Runtime does not run runs
    eagerly, channels-last (a frozen trace's weights outlive it: pytorch#96726)."""
    return Runner(module, str(device), method=method, jit=jit, low_precision=low_precision)


def runners(predictor: Any) -> list[Runner]:
    """The runners among a predictor's attributes."""
    return [value for value in vars(predictor).values() if isinstance(value, Runner)]


def use(predictor: Any, mode: str, key: str = "") -> None:
    """Switch a loaded predictor (of model `key`) to `mode` (ml.runtime, after loading it); a
    predictor without runners (the guided tools) runs as it always does."""
    custom = getattr(predictor, "use_inference", None)
    if custom is not None:
        custom(mode)
    for runner in runners(predictor):
        runner.switch(mode, lower=wants_low_precision(key), engine=engine_for(key))


def label(predictor: Any) -> str:
    """Which path a predictor's networks take, in words: "exact (float32, eager)", or "fast
    (...)" with what its fast path does."""
    custom = getattr(predictor, "inference_label", None)
    if isinstance(custom, str):
        return custom
    fast = [runner.label for runner in runners(predictor) if runner.fast]
    return fast[0] if fast else EXACT_LABEL


def _channels_last(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.dim() == 4 and value.is_floating_point():
        return value.contiguous(memory_format=torch.channels_last)
    return value


def _as_float(value: Any) -> Any:
    """Outputs in float32 (and plain layout), as the eager network gives them."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.float().contiguous() if value.is_floating_point() else value
    if isinstance(value, tuple | list):
        return type(value)(_as_float(v) for v in value)
    return value


def float32_weights(tensor: Any) -> Any:
    """A block where autocast is off on `tensor`'s device: a network's weight normalisation
    (spectral, weight norm) stays float32 under `fast`'s autocast, and the trace folds it into a
    constant. Changes nothing in `exact`, which has no autocast."""
    import torch

    return torch.autocast(tensor.device.type, enabled=False)


def details(predictor: Any) -> dict[str, str]:
    """What a result's details say about the path: {"inference": "fast (...)"} when a fast path
    ran; nothing for the float32 eager path, so results of `exact` read as they always did."""
    path = label(predictor)
    return {} if path == EXACT_LABEL else {"inference": path}
