#!/usr/bin/env bash
# GPU readiness check: the GPU-marked tests, then the comparison benchmark on
# the whole of banking77, results in one folder. Under 8 minutes on one
# recent GPU. Run from the repository root after the test install:
#     pip install -e ".[test]" && benchmarks/gpu_check.sh [OUT_DIR]
set -euo pipefail
out="${1:-gpu-check-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
python - <<'PY' | tee "$out/device.txt"
import torch
assert torch.cuda.is_available(), "no CUDA device visible: install a CUDA build of torch"
print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))
PY
python -m pytest -q -m gpu --junitxml="$out/gpu-tests.xml" 2>&1 | tee "$out/gpu-tests.txt"
python benchmarks/compare.py --device cuda --max-epochs 3 \
    --runs full lora token_sparse token_sparse:n_layers=None \
    --out-dir "$out" --docs-file none 2>&1 | tee "$out/bench.txt"
python benchmarks/predict_speed.py --device cuda 2>&1 | tee "$out/predict-speed.txt"
echo "results in $out"
