#!/usr/bin/env bash
# Accuracy against compute for three strategies on the bundled tiny model, as a table and curves.
#   bash examples/compare_budgets.sh [OUT_DIR]
# Runs on the development split: choose settings here, then score the test split once with what you chose.
set -euo pipefail
out="${1:-runs/compare-budgets}"
reasoner sweep --models tiny --dataset arith --split dev --limit 100 \
  --strategies cot,self_consistency,best_of_n --budgets 1,2,4,8,16 --out "$out"
reasoner report "$out"
echo "curves: $out/curve.png $out/by_level.png"
