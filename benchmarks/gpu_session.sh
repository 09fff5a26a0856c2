#!/usr/bin/env bash
# The GPU checks of issue 13 in one command, for a session that is lent a CUDA machine
# (docs/gpu.rst, "On a lent GPU").  Run from the repository root:
#
#     bash benchmarks/gpu_session.sh [tests|bench|irs|all]      (default: all = tests + bench)
#
# - tests: `pytest -m gpu tests` (the kernels against their references on the device, the CUDA C++
#   extension built with torch.utils.cpp_extension, every solver path on torch-cuda tensors);
# - bench: `python benchmarks/run.py --only cuda_ext` (kernel GB/s vs the copy bandwidth, batched
#   FISTA and SBL on the device vs the machine's CPU);
# - irs: `python benchmarks/run.py --only irs` (the CPU experiment, then the three Kronecker methods
#   with the realisations batched on the GPU vs the CPU experiment; several minutes: run it alone).
#
# Everything it produces goes to $OUT (the device tool's folder that comes back; ./gpu_out when
# unset): nvidia-smi.txt, available.json, gpu_tests.log, bench.log / irs.log and
# cuda_ext_results.json / irs_results.json.
# Back on the development machine, `python benchmarks/run.py --merge <that json>` puts the rows
# into benchmarks/results/latest.json and the docs tables, marked with the GPU they ran on.
# Python packages the device image lacks travel as wheels in .whl/ (carry it); they are installed
# into /tmp/site first.  The exit status is pytest's (bench failures show in bench.log).
set -u -o pipefail
what=${1:-all}
case $what in tests|bench|irs|all) ;; *) echo "usage: $0 [tests|bench|irs|all]" >&2; exit 2;; esac
out=${OUT:-$PWD/gpu_out}
mkdir -p "$out"
py=${PYTHON:-python3}
if compgen -G ".whl/*.whl" > /dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
unset TRITON_INTERPRET SPARSEREC_FORCE_REFERENCE
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >> "$out/nvidia-smi.txt"
"$py" -c "import json, sparserec.cuda_ext as c; print(json.dumps(c.available(), indent=1))" \
    2>&1 | tee "$out/available.json"
rc=0
if [[ $what == tests || $what == all ]]; then
    # -m gpu after the configured "-m 'not slow and not gpu'": the last -m wins
    "$py" -m pytest -q -p no:cacheprovider -m gpu --timeout 600 tests 2>&1 | tee "$out/gpu_tests.log"
    rc=${PIPESTATUS[0]}
fi
if [[ $what == bench || $what == all ]]; then
    "$py" benchmarks/run.py --only cuda_ext 2>&1 | tee "$out/bench.log"
    cp benchmarks/results/latest.json "$out/cuda_ext_results.json"
fi
if [[ $what == irs ]]; then
    "$py" benchmarks/run.py --only irs 2>&1 | tee "$out/irs.log"
    cp benchmarks/results/latest.json "$out/irs_results.json"
fi
exit "$rc"
