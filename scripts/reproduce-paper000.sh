#!/usr/bin/env bash
# Reproduces paper 000 (CSAAE) Tables 1 and 2: FGSM and PGD against the undefended simple CNN on the
# full MNIST and Fashion-MNIST test sets, printed beside the published numbers.
#
# Two protocols per table:
#   paper-protocol  as Algorithm 1 of the paper: FGSM attacks each eps from scratch, and neither
#                   attack clips to the pixel range (only the projection onto the eps-ball; the paper's
#                   different FGSM accuracies at eps 1.0 and 1.5 are only possible without clipping);
#   valid-images    adversarial images clipped to [0,1], Bastion's default threat model.
# PGD uses Bastion's defaults (40 steps of 2.5 eps/40, random start, 1 restart, early stop per sample).
#
# Usage: scripts/reproduce-paper000.sh [extra bastion attack options, e.g. --threads 1 or --limit 1000]
# Needs runs/models/simple-cnn-mnist and runs/models/simple-cnn-fashion-mnist (bastion train).
# Results: runs/reproduce/paper000/<table>-<data>-<protocol>/summary.json (OUT=... to change).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/reproduce/paper000}
FGSM_EPS=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,1,1.5
PGD_EPS=0,0.05,0.1,0.15,0.2,0.3
for data in mnist fashion-mnist; do
  model=runs/models/simple-cnn-$data
  if [ ! -f "$model/model.json" ]; then
    echo "reproduce-paper000: $model is missing; train it with: node bin/bastion.js train --model simple-cnn --data $data --out $model" >&2
    exit 1
  fi
done
for data in mnist fashion-mnist; do
  model=runs/models/simple-cnn-$data
  for protocol in paper-protocol valid-images; do
    if [ "$protocol" = paper-protocol ]; then bounds=none; else bounds=0,1; fi
    node bin/bastion.js attack --model "$model" --data "$data" --attack fgsm --eps "$FGSM_EPS" --independent-eps --bounds "$bounds" \
      --compare paper000-table1 --out "$OUT/table1-$data-$protocol" "$@"
    node bin/bastion.js attack --model "$model" --data "$data" --attack pgd --eps "$PGD_EPS" --bounds "$bounds" \
      --compare paper000-table2 --out "$OUT/table2-$data-$protocol" "$@"
  done
done
