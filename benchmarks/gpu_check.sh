#!/usr/bin/env bash
# One script for a lent GPU: the CUDA tests first, then the benchmarks on the GPU, most wanted first (the
# compiled fused pass of every model over 20 minutes, the Hessian strategies, one Newton step over 20 minutes,
# then the filter and compressor benchmarks), writing their JSON to ${OUT:-benchmarks/results} and all their
# text to one log there (gpu_check.log), so that a run cut short by its time limit still returns what it did.
#
# Usage (repo root): bash benchmarks/gpu_check.sh
#   GPU_CHECK_SKIP="filters compressor"  skips the named steps (tests, long_fit, hessian, newton_step, filters,
#                                        compressor), e.g. those already recorded in docs/results/.
# Extra Python packages missing on the GPU machine may be put (as importable folders) under .whl/site, which is
# added to PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-benchmarks/results}
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
export PYTHONPATH="$PWD:$PWD/.whl/site:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
SKIP=" ${GPU_CHECK_SKIP:-} "
: > "$LOG"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG"
$PY -c "import torch, numba, numpy; print('torch', torch.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)" 2>&1 | tee -a "$LOG"
status=0
step() {  # step NAME COMMAND...: run unless skipped, its output to the log, with its wall time
    local name=$1; shift
    case "$SKIP" in *" $name "*) echo "=== $name: skipped" | tee -a "$LOG"; return;; esac
    echo "=== $name: $*" | tee -a "$LOG"
    local t0=$SECONDS
    "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: rc=$rc, $((SECONDS - t0)) s" | tee -a "$LOG"
    [ "$rc" = 0 ] || status=1
}
step tests $PY -m pytest -q -ra -p no:cacheprovider tests/test_filters_cuda.py tests/test_compressor_cuda.py \
    tests/test_fit_cuda.py
# The compiled fused pass of every model on the GPU (one thread per frame), 20 minutes of audio.
step long_fit $PY benchmarks/long_fit.py --device cuda --skip-fits --minutes 20 --revrev-frames 1 \
    --models ff5 fb+2rel fb+knee+rms+2rel+sc+tube fb+knee+rms+prel+sc+tube+in2+core+out2 \
    --json "$OUTDIR/long_fit_cuda.json"
step hessian $PY benchmarks/hessian.py --device cuda --strategies fused,revrev,fwdrev,gauss-newton,published \
    --json "$OUTDIR/hessian_cuda.json"
step newton_step $PY benchmarks/newton_step.py --device cuda --minutes 20 --json "$OUTDIR/newton_step_cuda.json"
step filters $PY benchmarks/filters.py --device cuda --dtype float32 --json "$OUTDIR/filters_cuda.json"
step compressor $PY benchmarks/compressor.py --device cuda --dtype float32 --json "$OUTDIR/compressor_cuda.json"
exit $status
