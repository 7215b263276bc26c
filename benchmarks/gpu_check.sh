#!/usr/bin/env bash
# One script for a lent GPU: the CUDA tests, then the filter and compressor
# benchmarks on the GPU (and later the Hessian benchmark), writing their JSON to
# ${OUT:-benchmarks/results}. Sized to finish in a few minutes on one H100.
#
# Usage (repo root): bash benchmarks/gpu_check.sh
# Extra Python packages missing on the GPU machine may be put (as importable
# folders) under .whl/site, which is added to PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-benchmarks/results}
mkdir -p "$OUTDIR"
export PYTHONPATH="$PWD:$PWD/.whl/site:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUTDIR/gpu.txt"
status=0
run() { echo "=== $*"; "$@" || { echo "FAILED ($?): $*"; status=1; }; }
run $PY -m pytest -q -ra -p no:cacheprovider tests/test_filters_cuda.py tests/test_compressor_cuda.py tests/test_fit_cuda.py 2>&1 | tee "$OUTDIR/gpu_tests.log"
run $PY benchmarks/filters.py --device cuda --dtype float32 --json "$OUTDIR/filters_cuda.json" 2>&1 | tee "$OUTDIR/filters_cuda.txt"
run $PY benchmarks/compressor.py --device cuda --dtype float32 --json "$OUTDIR/compressor_cuda.json" 2>&1 | tee "$OUTDIR/compressor_cuda.txt"
run $PY benchmarks/hessian.py --device cuda --strategies fused,revrev,fwdrev,gauss-newton,published --json "$OUTDIR/hessian_cuda.json" 2>&1 | tee "$OUTDIR/hessian_cuda.txt"
run $PY benchmarks/newton_step.py --device cuda --minutes 20 --json "$OUTDIR/newton_step_cuda.json" 2>&1 | tee "$OUTDIR/newton_step_cuda.txt"
# The compiled fused pass of every model on the GPU (one thread per frame), 20 minutes of audio.
run $PY benchmarks/long_fit.py --device cuda --skip-fits --minutes 20 --json "$OUTDIR/long_fit_cuda.json" 2>&1 | tee "$OUTDIR/long_fit_cuda.txt"
exit $status
