"""Choosing the onnxruntime execution provider once, at start, and building the session.

'auto' prefers TensorRT, then CUDA (both only present with onnxruntime-gpu and a visible GPU), then CPU.
An explicit choice that is not available is a configuration error, not a silent fallback.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from pipeline.core.errors import ConfigError

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
_NAMES = {"auto": None, "cpu": CPU, "cuda": CUDA, "tensorrt": TENSORRT}
GPU_PROVIDERS = frozenset({TENSORRT, CUDA})
#: Graph fusions left out of CPU-only sessions because they make the CPU slower. onnxruntime's CPU
#: SkipLayerNormalization kernel is a scalar loop with a division per element: on the detector it took
#: 0.43 ms per 256-token layer against about 0.06 for the Add and LayerNormalization it replaces (12% of a
#: window's time), with outputs equal to about 1e-6.
CPU_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def provider_chain(requested: str) -> list[str]:
    """Providers to try, best first, for 'auto', 'cpu', 'cuda' or 'tensorrt' (or a full provider name)."""
    available = ort.get_available_providers()
    key = requested.lower()
    name = _NAMES.get(key, requested)
    if key == "auto":
        return [p for p in (TENSORRT, CUDA) if p in available] + [CPU]
    if name not in available:
        raise ConfigError(
            f"execution provider {requested!r} is not available (have: {', '.join(available)}); "
            "install onnxruntime-gpu on a GPU host, or use provider 'auto' or 'cpu'"
        )
    chain = [name]
    if name == TENSORRT and CUDA in available:
        chain.append(CUDA)
    if name != CPU:
        chain.append(CPU)
    return chain


def create_session(model_path: Path, requested: str, threads: int | None) -> tuple[ort.InferenceSession, str]:
    """A session on the best provider that actually starts, and that provider's name.

    A GPU provider listed by onnxruntime can still fail to start (missing TensorRT or CUDA libraries);
    under 'auto' the next one is tried, under an explicit choice the error is raised.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    # Threads that finish their share wait asleep instead of spinning: on cores shared with other
    # workers (or other sessions in the same worker) spinning burns CPU that the others need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        options.intra_op_num_threads = threads
    chain = provider_chain(requested)
    last_error: Exception | None = None
    for index in range(len(chain)):
        try:
            disabled = list(CPU_DISABLED_OPTIMIZERS) if chain[index:] == [CPU] else []
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=chain[index:], disabled_optimizers=disabled
            )
        except Exception as exc:  # onnxruntime raises plain RuntimeError/Fail subclasses
            if requested.lower() != "auto" and index == 0:
                raise ConfigError(f"could not start provider {chain[0]} for {model_path.name}: {exc}") from exc
            log.warning("execution provider %s failed to start, trying the next one", chain[index])
            last_error = exc
            continue
        return session, session.get_providers()[0]
    raise ConfigError(f"no execution provider could load {model_path.name}: {last_error}")
