#!/usr/bin/env bash
# Instruction counts (callgrind) of the pipeline next to a jieba cut pass over the same page:
# deterministic, unlike wall-clock time on a shared machine. Prints, per page, the instructions
# of process / cut, segmentation / cut, enrich / cut (NLP + classification of the segmented
# items) and entity tagger / cut (the tagger alone on the items' tokens), then the growth
# checks (seed x10 vs seed, 10k vs 1k
# tiny paragraphs).
#   benches/instructions.sh [ITERS]        (needs valgrind; ~1 min per page on 2 cores)
#   PAGES=seed benches/instructions.sh 3   (only some pages; growth checks need both pages)
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --example instructions >&2
bin="$CARGO_TARGET_DIR/release/examples/instructions"
out=$(mktemp -d)
declare -A ir
pages=${PAGES:-seed seed_x10 tiny_1k tiny_10k}
for page in $pages; do
  valgrind --tool=callgrind --callgrind-out-file="$out/$page.cg" "$bin" "$page" "$iters" >/dev/null 2>&1
  for stage in cut segment enrich entities process; do
    n=$(callgrind_annotate --inclusive=yes "$out/$page.cg" 2>/dev/null \
        | grep -E "instructions::stage_${stage}[^a-z_]" | head -1 | awk '{gsub(",","",$1); print $1}')
    ir[$page.$stage]=${n:-0}
  done
  echo "$page: cut ${ir[$page.cut]} Ir, segment ${ir[$page.segment]} Ir, enrich ${ir[$page.enrich]} Ir, entities ${ir[$page.entities]} Ir, process ${ir[$page.process]} Ir ($iters passes)" >&2
done
python3 - "$iters" <<PY
import sys
ir = {$(for k in "${!ir[@]}"; do printf '"%s": %s, ' "$k" "${ir[$k]}"; done)}
print("| page | process / cut | segmentation / cut | enrich / cut | entity tagger / cut | (process - segment) / cut |")
print("|---|---:|---:|---:|---:|---:|")
pages = [p for p in ["seed", "seed_x10", "tiny_1k", "tiny_10k"] if p + ".cut" in ir]
for p in pages:
    c = ir[p + ".cut"] or 1
    rest = ir[p + ".process"] - ir[p + ".segment"]
    print(f"| {p} | {ir[p + '.process'] / c:.3f} | {ir[p + '.segment'] / c:.3f} "
          f"| {ir[p + '.enrich'] / c:.3f} | {ir[p + '.entities'] / c:.3f} | {rest / c:.3f} |")
print()
for big, small in [("seed_x10", "seed"), ("tiny_10k", "tiny_1k")]:
    if big not in pages or small not in pages:
        continue
    g = ir[big + ".process"] / max(ir[small + ".process"], 1)
    gc = ir[big + ".cut"] / max(ir[small + ".cut"], 1)
    print(f"growth {big} / {small}: process {g:.2f}x (target <= 11), cut {gc:.2f}x")
PY
rm -rf "$out"
