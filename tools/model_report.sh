#!/usr/bin/env bash
# The numbers of models/README.md: AP of checkpoints on a root's scenes with the project's evaluator.
#   tools/model_report.sh ROOT SCENES VIEWS OUT NAME=CKPT[:--refine] ...
# e.g. tools/model_report.sh /work/data/toy 100-103,160-165 0-3 /work/eval full=runs/cpu/final.pt \
#        baseline=runs/baseline/final.pt full+prior=runs/cpu/final.pt:--refine
# Writes OUT/NAME/ (dumps + PNGs) and OUT/NAME.json (grasp6d eval --json), prints one line per model.
set -euo pipefail
root=$1 scenes=$2 views=$3 out=$4
shift 4
mkdir -p "$out"
for spec in "$@"; do
  name=${spec%%=*}
  rest=${spec#*=}
  ckpt=${rest%%:*}
  flags=""
  [[ "$rest" == *:* ]] && flags=${rest#*:}
  grasp6d detect --checkpoint "$ckpt" --input "$root" --scenes "$scenes" --views "$views" --out "$out/$name" \
    --threads 2 $flags > "$out/$name.detect.log" 2>&1
  grasp6d eval --root "$root" --dump "$out/$name" --scenes "$scenes" --json > "$out/$name.json"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); s=r['per_split']; print(sys.argv[2], 'all AP %.2f' % r['AP'], ' '.join('%s AP %.2f / AP0.4 %.2f / AP0.8 %.2f' % (k, v['AP'], v['AP0.4'], v['AP0.8']) for k, v in sorted(s.items())))" "$out/$name.json" "$name"
done
# Paired per-scene differences against `baseline` when it is one of the models (the ablation's question).
if [ -f "$out/baseline.json" ]; then
  for spec in "$@"; do
    name=${spec%%=*}
    [ "$name" = baseline ] || python3 -m grasp6d_core.evaluation.compare "$out/$name.json" "$out/baseline.json"
  done
fi
