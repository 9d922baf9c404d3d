#!/usr/bin/env python3
"""Fits the two-line headline-block model of src/pipeline/segment/heads.rs.

The crawler corpus keeps every article's kicker, title and subtitle in fixed lines (1, 2, 3),
so each article whose printed headline block has two lines is a labelled example: kicker over
title (KT), title over subtitle (TS), or a title over a first body line that looks like a
headline line (TB: a deck or pull quote the segmenter sees in the same block). The features
are the shape of the two lines; see heads.rs. Prints the cross-month accuracy (fit on one
month, test on the other) of the model and of the old length rule, then the weights to paste
into heads.rs.

    pip install numpy scikit-learn
    python3 tests/tools/fit_heads.py --corpus CORPUS_DIR   # or set $PAGESIFT_CORPUS
"""
import argparse
import glob
import json
import os
import re

import numpy as np
from sklearn.linear_model import LogisticRegression

WS = re.compile(r"\s+")
LEAD = re.compile(r"^(据)?((本报|新华社|中新社)([^，。电]{0,14}?\d+日)?电)|^本报讯")
COLTAG = re.compile(r".+[（(][^（()）]{2,32}[）)]$")
BOX = {"核心阅读", "内容提要", "开栏的话", "编者按", "题记", "编者的话"}
ATTENDANCE = re.compile(r"(出席|主持|讲话|致辞|会见|参加|看望|考察|陪同)")
NAMES = ["la", "lb", "b_comma", "b_digit", "b_paren", "b_att", "lead_after", "a_endq",
         "a_coltag", "b_colon"]


def vis(s):
    return len(WS.sub("", s))


def ends_sentence(s):
    s = s.rstrip()
    if not s:
        return False
    c = s[-1]
    return c in "。！？!?…；;" or (c in "”’」』\"'" and len(s) > 1 and s[-2] in "。！？!?…；;")


def headline_like(p):
    q = WS.sub("", p)
    return (0 < vis(p) <= 50 and not ends_sentence(p) and "。" not in p.rstrip()[:-1]
            and not p.rstrip().endswith(("，", "、", ",")) and not LEAD.match(q) and q not in BOX)


def features(a, b, after):
    a_end = a.strip()[-1:]
    return [vis(a), vis(b), int(bool(re.search("[，,]", b))), int(bool(re.search(r"\d", b))),
            int(bool(re.match(r"^[（(［\[].*[）)］\]]$", b.strip()))),
            int(bool(ATTENDANCE.search(b))), int(bool(LEAD.match(WS.sub("", after or "")))),
            int(a_end in "”\"！？!?"), int(bool(COLTAG.match(a))),
            int(bool(re.search("[：:]", b)))]


def examples(path):
    xs, ys = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            lines = json.loads(line)["text"].replace("\r", "").split("\n")
            lines += [""] * (3 - len(lines))
            k, t, s = (x.strip() for x in lines[:3])
            paras = [p.strip() for p in lines[3:] if p.strip()]
            p0 = paras[0] if paras else ""
            p1 = paras[1] if len(paras) > 1 else ""
            if not t:
                continue
            if k and not s and not headline_like(p0):
                label, a, b, after = "KT", k, t, p0
            elif s and not k and not headline_like(p0):
                label, a, b, after = "TS", t, s, p0
            elif not k and not s and p0 and headline_like(p0) and not headline_like(p1):
                label, a, b, after = "TB", t, p0, p1
            else:
                continue
            # Marks decide these before the model does (heads.rs callers).
            if b.startswith("—") or a.endswith(("—", "：", ":")):
                continue
            xs.append(features(a, b, after))
            ys.append(label)
    return np.array(xs), np.array(ys)


def old_rule(x):
    la, lb, coltag = x[0], x[1], x[8]
    return "TS" if coltag or (la >= 12 and lb >= la + 3) else "KT"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.environ.get("PAGESIFT_CORPUS"),
                    required=not os.environ.get("PAGESIFT_CORPUS"),
                    help="directory of the crawler corpus (*.jsonl); default $PAGESIFT_CORPUS")
    args = ap.parse_args()
    months = [examples(p) for p in sorted(glob.glob(os.path.join(args.corpus, "*.jsonl")))]
    for i, (xt, yt) in enumerate(months):
        xf = np.vstack([m[0] for j, m in enumerate(months) if j != i])
        yf = np.concatenate([m[1] for j, m in enumerate(months) if j != i])
        model = LogisticRegression(max_iter=10000, C=1.0).fit(xf, yf)
        old = np.array([old_rule(x) for x in xt])
        print(f"held-out month {i}: {len(yt)} blocks, model {(model.predict(xt) == yt).mean():.3f},"
              f" old length rule {(old == yt).mean():.3f}")
    x = np.vstack([m[0] for m in months])
    y = np.concatenate([m[1] for m in months])
    model = LogisticRegression(max_iter=10000, C=1.0).fit(x, y)
    order = {"KT": 0, "TB": 1, "TS": 2}
    print("// " + ", ".join(NAMES) + ", bias")
    for c in sorted(model.classes_, key=order.get):
        i = list(model.classes_).index(c)
        w = [round(v, 2) for v in model.coef_[i]] + [round(model.intercept_[i], 2)]
        print(f"[{', '.join(str(v) for v in w)}],  // {c}")


if __name__ == "__main__":
    main()
