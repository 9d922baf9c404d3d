#!/usr/bin/env python3
"""Turns criterion's saved runs into the ratio table of benches/RESULTS.md.

Each run is a criterion baseline saved with `--save-baseline NAME`:

    cargo bench --bench pipeline -- --save-baseline r1    # then r2, r3, ...
    python3 benches/report.py [--criterion DIR] [--runs r1,r2,r3] [--markdown]

For every page group it prints, per stage, the ratio `stage time / cut time` where `cut` is the
same-run `jieba.cut(text, true)` pass over the same page (median estimates), as min/median/max
over the runs, plus the absolute MB/s of the run with the median ratio. Then the checks of
issue 6: whole pipeline on the seed page <= 2.5x cut, segmentation <= 0.3x cut, a page 10x longer
<= 11x the time, 10,000 tiny paragraphs <= 11x the time of 1,000 (not quadratic); and of issue 3:
NLP + classification (`enrich`) on the seed page <= 1x cut.
Exits 1 when a check fails (so CI can gate on it), 0 otherwise.
"""

import argparse
import json
import os
import statistics
import sys

PAGES = ["seed", "seed_x10", "tiny_1k", "tiny_10k"]
STAGES = ["normalize", "segment", "segment_total", "nlp", "classify", "enrich", "serialise", "process"]
RESERVED = {"new", "base", "change", "report"}


def load(root, group, bench, run):
    path = os.path.join(root, group, bench, run, "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]  # nanoseconds per iteration
    except (OSError, KeyError, ValueError):
        return None


def page_bytes(root, group, run):
    path = os.path.join(root, group, "cut", run, "benchmark.json")
    try:
        with open(path) as f:
            return json.load(f)["throughput"]["Bytes"]
    except (OSError, KeyError, ValueError, TypeError):
        return None


def find_runs(root):
    runs = set()
    seed = os.path.join(root, "seed", "cut")
    if os.path.isdir(seed):
        for name in os.listdir(seed):
            if name not in RESERVED and os.path.isfile(os.path.join(seed, name, "estimates.json")):
                runs.add(name)
    return sorted(runs)


def mmm(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def fmt(t, digits=2):
    if t is None:
        return "n/a"
    lo, med, hi = t
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--criterion", default=os.path.join(target, "criterion"))
    ap.add_argument("--runs", help="comma-separated baseline names (default: all saved)")
    args = ap.parse_args()
    root = args.criterion
    runs = args.runs.split(",") if args.runs else find_runs(root)
    if not runs:
        sys.exit(f"no saved runs under {root}; run: cargo bench --bench pipeline -- --save-baseline r1")

    print(f"runs: {', '.join(runs)}  (ratio = stage median / same-run cut median; "
          f"median (min–max) over runs)\n")
    print("| page | bytes | cut MB/s | " + " | ".join(STAGES) + " |")
    print("|---|---:|---:|" + "---:|" * len(STAGES))
    times = {}
    for page in PAGES:
        cut = {r: load(root, page, "cut", r) for r in runs}
        for stage in STAGES + ["cut"]:
            times[(page, stage)] = {r: load(root, page, stage, r) for r in runs}
        size = page_bytes(root, page, runs[0])
        cut_mbs = mmm([size / cut[r] * 1e9 / 1e6 if size and cut[r] else None for r in runs])
        cells = []
        for stage in STAGES:
            ratios = [times[(page, stage)][r] / cut[r]
                      if times[(page, stage)][r] and cut[r] else None for r in runs]
            cells.append(fmt(mmm(ratios), 3 if stage != "process" else 2))
        print(f"| {page} | {size or 'n/a'} | {fmt(cut_mbs, 1)} | " + " | ".join(cells) + " |")

    def growth(big, small, stage):
        return mmm([times[(big, stage)][r] / times[(small, stage)][r]
                    if times[(big, stage)][r] and times[(small, stage)][r] else None for r in runs])

    startup = {s: mmm([load(root, "startup", s, r) for r in runs]) for s in ["jieba_new", "build_pipeline"]}
    checks = []
    seed_process = mmm([times[("seed", "process")][r] / times[("seed", "cut")][r]
                        if times[("seed", "process")][r] and times[("seed", "cut")][r] else None
                        for r in runs])
    seed_segment = mmm([times[("seed", "segment_total")][r] / times[("seed", "cut")][r]
                        if times[("seed", "segment_total")][r] and times[("seed", "cut")][r] else None
                        for r in runs])
    checks.append(("whole pipeline, seed page / cut", seed_process, 2.5))
    checks.append(("segmentation (decode check+normalize+segment), seed / cut", seed_segment, 0.3))
    seed_enrich = mmm([times[("seed", "enrich")][r] / times[("seed", "cut")][r]
                       if times[("seed", "enrich")][r] and times[("seed", "cut")][r] else None
                       for r in runs])
    checks.append(("NLP + classification (enrich), seed / cut", seed_enrich, 1.0))
    checks.append(("process time, seed x10 / seed", growth("seed_x10", "seed", "process"), 11.0))
    checks.append(("cut time, seed x10 / seed (baseline)", growth("seed_x10", "seed", "cut"), None))
    checks.append(("process time, 10k tiny paragraphs / 1k", growth("tiny_10k", "tiny_1k", "process"), 11.0))
    checks.append(("cut time, 10k tiny paragraphs / 1k (baseline)", growth("tiny_10k", "tiny_1k", "cut"), None))
    if startup["jieba_new"] and startup["build_pipeline"]:
        ratios = [load(root, "startup", "build_pipeline", r) / load(root, "startup", "jieba_new", r)
                  for r in runs if load(root, "startup", "jieba_new", r) and load(root, "startup", "build_pipeline", r)]
        checks.append(("pipeline build / Jieba::new()", mmm(ratios), None))

    print("\n| check | median (min–max) | target | verdict |")
    print("|---|---:|---:|---|")
    failed = False
    for name, value, limit in checks:
        verdict = "—"
        if limit is not None and value is not None:
            ok = value[2] <= limit
            verdict = "ok" if ok else ("MISSED (median ok)" if value[1] <= limit else "MISSED")
            failed |= value[1] > limit
        print(f"| {name} | {fmt(value)} | {'≤ ' + str(limit) if limit else ''} | {verdict} |")
    paired = {}
    for r in runs:
        try:
            with open(os.path.join(root, f"paired-{r}.json")) as f:
                paired[r] = json.load(f)
        except (OSError, ValueError):
            pass
    if paired:
        print(f"\nInterleaved (paired) ratios, runs {', '.join(sorted(paired))}: "
              "median over runs of each run's median pair ratio (min–max over runs)\n")
        print("| figure | median (min–max) | target | verdict |")
        print("|---|---:|---:|---|")

        def pv(path):
            out = []
            for data in paired.values():
                v = data
                for k in path:
                    v = v.get(k) if isinstance(v, dict) else None
                out.append(v[1] if isinstance(v, list) else None)
            return mmm(out)

        rows = [(f"{page}: process / cut", ("{0}".format(page), "process"), 2.5 if page == "seed" else None)
                for page in PAGES]
        rows += [(f"{page}: segmentation / cut", (page, "segment_total"), 0.3 if page == "seed" else None)
                 for page in PAGES]
        rows += [(f"{page}: enrich (NLP + classification) / cut", (page, "enrich"), 1.0 if page == "seed" else None)
                 for page in PAGES]
        rows += [("growth seed x10 / seed: process", ("growth_seed_x10_over_seed", "process"), 11.0),
                 ("growth seed x10 / seed: cut (baseline)", ("growth_seed_x10_over_seed", "cut"), None),
                 ("growth 10k / 1k tiny paragraphs: process", ("growth_tiny_10k_over_tiny_1k", "process"), 11.0),
                 ("growth 10k / 1k tiny paragraphs: cut (baseline)", ("growth_tiny_10k_over_tiny_1k", "cut"), None)]
        for name, path, limit in rows:
            value = pv(path)
            verdict = "—"
            if limit is not None and value is not None:
                verdict = "ok" if value[1] <= limit else "MISSED"
                failed |= value[1] > limit
            print(f"| {name} | {fmt(value)} | {'≤ ' + str(limit) if limit else ''} | {verdict} |")
    for s, v in startup.items():
        if v:
            print(f"\nstartup/{s}: {v[1] / 1e6:.1f} ms median ({v[0] / 1e6:.1f}–{v[2] / 1e6:.1f})", end="")
    print()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
