#!/usr/bin/env bash
# The device check in one command (issue 15): CUDA tests, PPL / FID / separability throughput,
# FLOP/s and the candidate optimisations with their parity checks, under 8 minutes on one H100/H200.
#
#   bash benchmarks/device_check.sh                 # results under $OUT (else benchmarks/device_check_out)
#   bash benchmarks/device_check.sh --stages ppl_sg2,fid --budget 200   # extra args go to device_check.py
#
# Wheels in .whl/ (lpips is required: the LPIPS heads ship in it; torch-fidelity is one of the
# peers) are installed into /tmp/site first; see the module docstring of device_check.py.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
OUT="${OUT:-$PWD/benchmarks/device_check_out}"
mkdir -p "$OUT"
# stylegan_eval/classifiers is a git-ignored link to ../classifiers in a checkout: make it where it did not travel
[ -e stylegan_eval/classifiers ] || ln -s ../classifiers stylegan_eval/classifiers
export OUT PYTHONUNBUFFERED=1 STYLEGAN_EVAL_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed" >&2; exit 2; }
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
{ nvidia-smi; python3 -c 'import torch, lpips; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'; } \
  >"$OUT/environment.txt" 2>&1
# Hard stop a little past the script's own budget (420 s by default): partial results stay under $OUT.
timeout -k 10 "${DEVICE_CHECK_TIMEOUT:-465}" python3 benchmarks/device_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/device_check.log"
rc=${PIPESTATUS[0]}
echo "---- device_check.md (exit $rc) ----"
cat "$OUT/device_check.md" 2>/dev/null
exit "$rc"
