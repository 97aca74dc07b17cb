#!/usr/bin/env bash
# One prepared GPU check, under 8 minutes: which execution provider the detector gets, and its throughput
# (int8 as shipped, and the fp16 GPU export when built) at batches of 1-512 notes on CUDA (and TensorRT
# where present) beside the CPU on the same machine, plus the summarizer's tokens/s when a build is given.
#   bash bench/gpu.sh                      # here: a CPU-only self-check that says no GPU was found
# onnxruntime-gpu comes from, in order: the Python environment, PHI_GPU_SITE (a folder holding an unpacked
# onnxruntime-gpu, put first on PYTHONPATH), or a wheel carried in .whl/.
# The fp16 detector: `phi-pipeline model gpu-export` writes models/build/gpu-fp16 (PHI_GPU_FP16 overrides).
# The summarizer: PHI_SUMMARIZER_MODEL, when set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="${PHI_GPU_SITE:+$PHI_GPU_SITE:}."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi: no NVIDIA GPU here"
if ! "$PY" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  if ls .whl/onnxruntime_gpu-*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --target /tmp/phi-gpu-site .whl/onnxruntime_gpu-*.whl
    export PYTHONPATH="/tmp/phi-gpu-site:."
  else
    echo "onnxruntime here has no CUDA provider and none was carried (PHI_GPU_SITE, .whl/): CPU only" >&2
  fi
fi
args=()
fp16=${PHI_GPU_FP16:-models/build/gpu-fp16}
[ -f "$fp16/model.onnx" ] && args+=(--fp16 "$fp16")
[ -n "${PHI_SUMMARIZER_MODEL:-}" ] && args+=(--summarizer "$PHI_SUMMARIZER_MODEL")
timeout 450 "$PY" bench/gpu_bench.py "${args[@]}" "$@"
