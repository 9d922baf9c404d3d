#!/usr/bin/env python3
"""Builds held-out test pages with known truth from the crawler corpus.

Each page is every item of one printed page (date + page number) of
the crawler corpus (`--corpus DIR` or $PAGESIFT_CORPUS: DIR/*.jsonl), in item order, written in
one of the two layouts the segmenter must
read (blank-line *blocks* or the crawler's *raw* indented dump), optionally with re-created
extraction damage (column breaks, displaced headline blocks) in the blocks layout. Truth files
follow the truth format of tests/fixtures/truth (FORMAT.md of the shared data), so
`pagesift-dev eval` scores them:

    python3 tests/tools/make_pages.py --corpus CORPUS_DIR --out /tmp/heldout --pages 80 --seed 7
    cargo run --release --bin pagesift-dev -- eval --pages /tmp/heldout/pages --truth /tmp/heldout/truth

Pages of the dev set (and any page whose date/page appears there) are skipped. The truth is
derived from the crawler's structure with rules written independently of the segmenter: line 1
kicker, line 2 headline, line 3 subtitle, paragraphs after; an inline lead (本报…电（记者…）,
新华社…电, 本报讯(…)) is cut off the first paragraph; a last paragraph that is only a credit
(… 摄, 新华社发, （本报…电）, （作者…）) is not body.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import re

DEV_PAGES = {("2019-10-17", "13"), ("2019-10-23", "11"), ("2019-10-24", "11"), ("2019-02-25", "01")}
LEAD = re.compile(
    r"^(据)?((本报|新华社|中新社)([^，。电]{0,14}?\d+日)?电)\s*([（(][^）)，。]{0,40}[）)])?"
    r"|^本报讯\s*([（(][^）)，。]{0,40}[）)])?"
)
CREDIT = re.compile(
    r"^([（(][^）)]{0,60}(电|作者|记者|整理|执笔)[^）)]{0,80}[）)]|[（(][\u4e00-\u9fff ]{2,8}[）)]|.{0,24}(摄|摄（[^）]{1,8}）|摄影报道|新华社发|供图))$"
    # Picture-and-text credits of illustrated columns: `曹 一图 杨立新文`, `徐 骏图（新华社发） 苏 砥文`.
    r"|^[\u4e00-\u9fff ]{1,6}图(（[^）]{1,8}）)?\s*[\u4e00-\u9fff ]{1,6}文$"
    # A whole-line parenthesised closing note or author credit: `（本系列评论到此结束）`,
    # `（苏宁金融研究院研究员 付一夫）`, `（李泽文参与采写）`.
    r"|^[（(][^（）()]{2,40}[）)]$"
    # A bare agency credit line under a photo: `人民视觉`.
    r"|^(人民视觉|视觉中国|新华社)$"
)
WS = re.compile(r"\s+")
TRAILING = re.compile(r"[。！？”]\s*([（(](?:[\u4e00-\u9fff ]{2,12}|[^（）()]{0,20}(?:记者|作者|执笔)[^（）()]{0,30})[）)])$")
# Page furniture the crawler keeps inside an item: graphics and layout credits, ad marks.
FURNITURE = re.compile(
    r"^(本版)?(制图|版式设计|设计|美术编辑|责任编辑|图片来源|剧照摄影|投稿邮箱|来稿邮箱)[：:]?.{0,30}$"
    r"|^·?广告·?$"
    # Reader-service blurbs: QR-code and e-mail pointers.
    r"|^.{0,30}(二维码|扫码|邮箱[：:]|请寄[：:]).{0,30}$"
)


def squash(s):
    return WS.sub("", s.replace("\u3000", "").replace("\xa0", ""))


def parse_item(text):
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while len(lines) < 3:
        lines.append("")
    kicker, title, subtitle = (l.replace("\xa0", " ").strip() for l in lines[:3])
    paras = []
    for l in lines[3:]:
        t = l.replace("\xa0", " ").strip(" \u3000\t")
        t = re.sub(r" +", " ", t)
        if t:
            paras.append(t)
    return kicker, title, subtitle, paras


def body_and_credits(paras):
    body = list(paras)
    lead = None
    if body:
        m = LEAD.match(body[0])
        if m:
            lead = m.group(0).strip()
            rest = body[0][m.end():].strip()
            body = ([rest] if rest else []) + body[1:]
    credit = None
    # Furniture and credit lines may come in any order at the end of an item.
    while body:
        if FURNITURE.match(body[-1]):
            body.pop()
        elif CREDIT.match(body[-1]) and len(squash(body[-1])) <= 100:
            credit = body.pop()
        else:
            break
    # A trailing author credit inside the last paragraph: `…。（龙恩泽）`, `…。(梁 浩)`.
    if body:
        m = TRAILING.search(body[-1])
        if m and m.start() > 0:
            credit = m.group(1)
            body[-1] = body[-1][:m.start() + 1]
    return lead, body, credit


HEADING_LIKE = re.compile(r"^[^。，；！？,;!?]{2,24}$")
BYLINE_LINE = re.compile(r"^(本报|新华社|人民日报)?(特约|实习)?(记者|通讯员|特派记者)\s*\S")
SIGNATURE = re.compile(r"^[\u4e00-\u9fff]{2,12}[省市县区州镇乡村旗]\s*[\u4e00-\u9fff ]{2,6}$")


def is_roundup(paras):
    """A round-up of separately headlined pieces (briefs columns, reader-letter columns, a
    story with bylined sidebars): the crawler keeps it as one item, but a human annotator
    following truth/FORMAT.md splits it (as on dev page 015). Structural rule: a later
    paragraph is a short heading-like line (no clause punctuation) followed by a byline line
    or an inline lead, or the item holds two or more letter signatures (place + name)."""
    for k in range(1, len(paras) - 1):
        if HEADING_LIKE.match(paras[k]) and (BYLINE_LINE.match(paras[k + 1]) or LEAD.match(paras[k + 1])):
            return True
    return sum(1 for p in paras if SIGNATURE.match(p)) >= 2


def column_break(para, rng):
    n = len(para)
    if n < 60:
        return None
    cut = rng.randrange(20, n - 20)
    a, b = para[:cut], para[cut:]
    if a[-1] in "，。！？；：、”）" or b[0] in "，。！？；：、”）":
        return None
    return a, b


def build_page(items, layout, rng, damage, keep_roundups=False, skipped=None):
    skipped = [] if skipped is None else skipped
    blocks = []  # for blocks layout: list of strings (one block each)
    raw_lines = []
    truth = []
    artefacts = []
    for k, it in enumerate(items):
        kicker, title, subtitle, paras = parse_item(it["text"])
        lead, body, credit = body_and_credits(paras)
        if len(squash("".join(body))) < 30 or not title:
            continue
        if not keep_roundups and is_roundup(paras):
            # Left off the page entirely (text and truth), so it neither counts nor misleads.
            skipped.append(it["id"])
            continue
        first = squash("".join(body))[:20]
        last = squash("".join(body))[-20:]
        kind = "photo" if credit and ("摄" in credit or "发" in credit) and len(body) <= 2 else (
            "brief" if lead else "article")
        truth.append({
            "id": it["id"], "kind": kind, "kicker": kicker or None, "title": title,
            "subtitle": subtitle or None, "byline": lead or credit, "trailing_credit": credit,
            "first_chars": first, "last_chars": last,
        })
        if layout == "raw":
            raw_lines += [kicker, title, subtitle] + ["\u3000\u3000" + p for p in paras]
            continue
        head = [l for l in (kicker, title, subtitle) if l]
        out_paras = list(paras)
        # Photo credits ride on the caption line, after a space, as in the dev pages.
        if credit and len(out_paras) >= 2 and out_paras[-1] == credit and kind == "photo":
            out_paras = out_paras[:-2] + [out_paras[-2] + " " + credit]
        if damage and rng.random() < 0.35:
            i = rng.randrange(len(out_paras))
            cb = column_break(out_paras[i], rng)
            if cb:
                out_paras[i:i + 1] = list(cb)
                artefacts.append(f"column break in {it['id']}")
        if damage and truth and len(truth) >= 2 and rng.random() < 0.15 and len(out_paras) >= 3:
            i = rng.randrange(0, min(3, len(out_paras) - 1))
            cb = column_break(out_paras[i], rng)
            if cb and not LEAD.match(cb[1]):
                headline = [l for l in (kicker, title) if l]
                out_paras[i:i + 1] = [cb[0]] + headline + [cb[1]]
                head = [subtitle] if subtitle else []
                if subtitle:
                    # A subtitle left above the text would start the item by itself.
                    head = []
                    truth[-1]["subtitle"] = None
                artefacts.append(f"displaced headline of {it['id']}")
        blocks += head + out_paras
    if layout == "raw":
        text = "\n".join(raw_lines) + "\n"
    else:
        text = "\n\n".join(blocks) + "\n"
    return text, truth, artefacts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", default=os.environ.get("PAGESIFT_CORPUS"),
                    required=not os.environ.get("PAGESIFT_CORPUS"),
                    help="directory of the crawler corpus (*.jsonl); default $PAGESIFT_CORPUS")
    ap.add_argument("--no-damage", action="store_true")
    ap.add_argument("--layout", choices=["mixed", "blocks", "raw"], default="mixed",
                    help="layout of every page (default: every fourth page raw, the rest blocks)")
    ap.add_argument("--keep-roundups", action="store_true",
                    help="keep round-up items (their crawler truth is one item for several pieces)")
    args = ap.parse_args()
    by_page = {}
    for path in sorted(glob.glob(os.path.join(args.corpus, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                by_page.setdefault((d["date"], d["page"]), []).append(d)
    keys = [k for k in by_page if k not in DEV_PAGES]
    keys.sort(key=lambda k: hashlib.sha256(f"{args.seed}:{k}".encode()).hexdigest())
    rng = random.Random(args.seed)
    os.makedirs(os.path.join(args.out, "pages"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "truth"), exist_ok=True)
    made = 0
    roundups = 0
    for key in keys:
        if made >= args.pages:
            break
        items = sorted(by_page[key], key=lambda d: d["item"])
        layout = args.layout if args.layout != "mixed" else ("raw" if made % 4 == 3 else "blocks")
        skipped = []
        text, truth, artefacts = build_page(items, layout, rng, not args.no_damage,
                                            args.keep_roundups, skipped)
        roundups += len(skipped)
        if len(truth) < 2:
            continue
        name = f"{key[0].replace('-', '')}-{key[1]}-{layout}"
        with open(os.path.join(args.out, "pages", name + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(args.out, "truth", name + ".json"), "w", encoding="utf-8") as f:
            json.dump({"page_file": f"pages/{name}.txt", "layout": layout, "artefacts": artefacts,
                       "articles": truth}, f, ensure_ascii=False, indent=1)
        made += 1
    print(f"{made} pages in {args.out} ({roundups} round-up items left off)")


if __name__ == "__main__":
    main()
