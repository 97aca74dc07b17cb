#!/usr/bin/env bash
# One prepared GPU check, under 10 minutes: which execution provider the detector gets, and its
# throughput at batch sizes 1-256 on CUDA (and TensorRT where present) beside CPU, in one run.
# On a machine with an NVIDIA GPU and onnxruntime-gpu (or its wheel carried in .whl/):
#   bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
if ! "$PY" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  if ls .whl/onnxruntime_gpu-*.whl >/dev/null 2>&1; then
    "$PY" -m venv --system-site-packages /tmp/phi-gpu-venv
    /tmp/phi-gpu-venv/bin/pip install --no-index --find-links .whl onnxruntime-gpu
    PY=/tmp/phi-gpu-venv/bin/python
  else
    echo "onnxruntime here has no CUDA provider and no .whl/onnxruntime_gpu-*.whl was carried: CPU only" >&2
  fi
fi
PYTHONPATH=. timeout 540 "$PY" bench/gpu_bench.py "$@"
