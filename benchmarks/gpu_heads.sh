#!/usr/bin/env bash
# On a GPU machine: embed Fashion-MNIST with EfficientNet-Lite0 on CUDA, then benchmark the
# heads with device="cuda" (sklearn baselines on the host CPU; the naive grid is skipped).
# Needs the Fashion-MNIST IDX files under $HEADSTART_DATA/fashion-mnist and the Lite0 weights.
set -euo pipefail
WEIGHTS=${1:?usage: gpu_heads.sh WEIGHTS_FILE}
STORE=${STORE:-/tmp/fm-lite0}
python3 -m headstart.cli embed fashion-mnist -e efficientnet-lite0 -o "$STORE" -q \
  --device cuda --batch-size 512 --workers 16 --encoder-option "weights=$WEIGHTS"
python3 benchmarks/heads.py --store "$STORE" --device cuda --seeds 20 --skip-naive
