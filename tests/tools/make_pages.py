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

Round-ups of separately headlined pieces (a later paragraph that is a short heading-like line
followed by a byline line or an inline lead) are split into one truth entry per piece, the
round-up's own headline becoming a `section` entry when no text precedes the first piece;
round-ups of signed letters are left off the page.

With damage (the default) the blocks layout also gets, each drawn from the seed: headlines
wrapped over two or three blocks (at a phrase boundary or mid-word), source credits run on at
the end of the last paragraph (`…。据新华社`) or on a line of their own, data-source lines,
QR-code prompt blocks, standalone photo-caption blocks inside an item, a page header line and
a layout credit (`版式设计：…`) as furniture.

Beside `pages/` and `truth/` it writes `labels/NAME.json`: one entry per block (blocks layout)
or line (raw layout) of the page, `{"text", "label", "item", "start"}`, where `label` is one of
kicker, title, subtitle, byline, section, lead (a paragraph opening with an inline lead), body,
body_cont (the rest of a paragraph cut by a column break), subhead (a short heading-like
paragraph inside the text), caption, credit, furniture, kicker_displaced / title_displaced;
`start` marks the first block of an item. `pagesift-dev train-segmenter` learns from these.
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


# Where a headline may wrap at a phrase boundary: after inner punctuation or a space.
PHRASE_END = "：:，,、；; "


def wrap_headline(title, rng):
    """A headline printed on two or three lines, as a metro daily sets it: cut at a phrase
    boundary (after inner punctuation or a space) when there is one near the middle, else at
    an arbitrary character (mid-word). Returns the lines, or None when the title is short."""
    # A bracketed column tag at the end (`（国际视点）`) stays on the last line.
    tag = re.search(r"[（(][^（）()]{1,10}[）)]$", title)
    n = tag.start() if tag else len(title)
    if n < 10:
        return None
    parts = 3 if n >= 18 and rng.random() < 0.3 else 2
    cuts = []
    lo = 0
    for j in range(1, parts):
        target = n * j // parts
        window = range(max(lo + 4, target - 4), min(n - 4, target + 5))
        phrase = [i + 1 for i in window if title[i] in PHRASE_END]
        if phrase and rng.random() < 0.6:
            cut = min(phrase, key=lambda i: abs(i - target))
        else:
            cut = rng.randrange(max(lo + 4, target - 3), max(lo + 5, min(n - 3, target + 4)))
        if cut <= lo or cut >= n:
            return None
        cuts.append(cut)
        lo = cut
    lines, prev = [], 0
    for c in cuts + [len(title)]:
        piece = title[prev:c].strip()
        if not piece:
            return None
        lines.append(piece)
        prev = c
    return lines


# Source credits that papers run on at the end of an item's last paragraph or print on a
# line of their own (agency and outlet kinds, not outlets of the corpus pages).
RUN_ON_CREDITS = ["据新华社", "（据新华社）", "据央视新闻", "据中新社", "（综合新华社、央视新闻）"]
OWN_LINE_CREDITS = ["综合新华社等报道", "据新华社电", "（据央视新闻客户端）"]
DATA_SOURCES = ["国家统计局", "应急管理部", "中国气象局", "有关部门", "各地通报"]
PROMPTS = ["扫码参与讨论", "扫描二维码观看视频", "扫码了解更多", "扫一扫，分享给朋友"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


def made_up_name(rng, text):
    """A two- or three-character name: a common surname and characters of the page text."""
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    given = "".join(rng.choice(cjk) for _ in range(rng.choice([1, 2]))) if cjk else "明"
    return rng.choice(SURNAMES) + given


def split_roundup(kicker, title, subtitle, paras):
    """The pieces of a round-up of separately headlined items: a later paragraph that is a
    short heading-like line followed by a byline line or an inline lead starts a piece.
    Returns [(kicker, title, subtitle, byline_line, paras)] or None when it is not one."""
    cuts = [k for k in range(0, len(paras) - 1)
            if HEADING_LIKE.match(paras[k]) and (BYLINE_LINE.match(paras[k + 1]) or LEAD.match(paras[k + 1]))]
    if not cuts:
        return None
    # A piece's kicker: a heading-like line ending with a dash or colon right above its
    # headline (`内蒙古阿尔山——`).
    kickers = {k: k - 1 for k in cuts
               if k >= 1 and HEADING_LIKE.match(paras[k - 1]) and paras[k - 1].endswith(("—", "：", ":"))}
    starts = [kickers.get(k, k) for k in cuts]
    pieces = [(kicker, title, subtitle, None, paras[:starts[0]])]
    for j, k in enumerate(cuts):
        end = starts[j + 1] if j + 1 < len(cuts) else len(paras)
        body = paras[k + 1:end]
        byline = None
        if body and BYLINE_LINE.match(body[0]) and len(squash(body[0])) <= 30:
            byline, body = body[0], body[1:]
        piece_kicker = paras[kickers[k]] if k in kickers else ""
        pieces.append((piece_kicker, paras[k], "", byline, body))
    return pieces


def build_page(items, layout, rng, damage, keep_roundups=False, skipped=None, split=None):
    """The page text, its truth entries, its artefacts and one label per block (blocks
    layout) or line (raw layout): `{"text", "label", "item", "start"}`; `start` marks the
    first block of an item's headline block (or of its text when it has none in place)."""
    skipped = [] if skipped is None else skipped
    split = [] if split is None else split
    blocks = []  # (text, label, item id, start)
    raw_lines = []
    truth = []
    artefacts = []
    pieces_of = []
    for it in items:
        kicker, title, subtitle, paras = parse_item(it["text"])
        pieces = split_roundup(kicker, title, subtitle, paras) if not keep_roundups else None
        if pieces is not None and layout == "blocks":
            split.append(it["id"])
            for j, (k, t, s, b, p) in enumerate(pieces):
                pieces_of.append((f"{it['id']}.{j}", k, t, s, b, p, it["text"]))
            continue
        if not keep_roundups and is_roundup(paras):
            # Left off the page entirely (text and truth), so it neither counts nor misleads.
            skipped.append(it["id"])
            continue
        pieces_of.append((it["id"], kicker, title, subtitle, None, paras, it["text"]))
    page_text = "".join(p[6] for p in pieces_of)
    if damage and layout == "blocks" and rng.random() < 0.3:
        # A page header line (date and page number), furniture.
        blocks.append((f"{rng.randrange(1, 29)}日 星期{rng.choice('一二三四五六日')} 第{rng.randrange(1, 24)}版", "furniture", None, False))
    for pid, kicker, title, subtitle, byline_line, paras, _ in pieces_of:
        lead, body, credit = body_and_credits(paras)
        if len(squash("".join(body))) < 30 or not title:
            if pid.endswith(".0") and title and not squash("".join(body)):
                # A round-up's own headline over its pieces: a column label.
                truth.append({"id": pid, "kind": "section", "kicker": None, "title": title,
                              "subtitle": None, "byline": None, "trailing_credit": None,
                              "first_chars": None, "last_chars": None})
                if layout == "blocks":
                    blocks += [(l, "section", pid, j == 0) for j, l in enumerate(x for x in (kicker, title, subtitle) if x)]
            continue
        first = squash("".join(body))[:20]
        last = squash("".join(body))[-20:]
        kind = "photo" if credit and ("摄" in credit or "发" in credit) and len(body) <= 2 else (
            "brief" if lead else "article")
        entry = {
            "id": pid, "kind": kind, "kicker": kicker or None, "title": title,
            "subtitle": subtitle or None, "byline": byline_line or lead or credit,
            "trailing_credit": credit, "first_chars": first, "last_chars": last,
        }
        truth.append(entry)
        if layout == "raw":
            lines = [kicker, title, subtitle] + ["\u3000\u3000" + p for p in paras]
            labels = ["kicker", "title", "subtitle"] + ["body"] * len(paras)
            raw_lines += [(l, lab, pid, j == 0) for j, (l, lab) in enumerate(zip(lines, labels))]
            continue
        head = [(l, lab) for l, lab in ((kicker, "kicker"), (title, "title"), (subtitle, "subtitle")) if l]
        if byline_line:
            head.append((byline_line, "byline"))
        # Paragraph labels: the lead paragraph, body, the credit and furniture lines at the end.
        out = []
        for j, p in enumerate(paras):
            out.append([p, "lead" if j == 0 and lead else "body"])
        n_body_end = len(out)
        while n_body_end and (FURNITURE.match(out[n_body_end - 1][0]) or CREDIT.match(out[n_body_end - 1][0])):
            n_body_end -= 1
            out[n_body_end][1] = "furniture" if FURNITURE.match(out[n_body_end][0]) else "credit"
        for o in out[:n_body_end]:
            if o[1] == "body" and HEADING_LIKE.match(o[0]) and len(o[0]) <= 20:
                o[1] = "subhead"
        # Photo credits ride on the caption line, after a space, as in the dev pages.
        if credit and len(out) >= 2 and out[-1][0] == credit and kind == "photo":
            out = out[:-2] + [[out[-2][0] + " " + credit, "caption"]]
        if damage:
            body_idx = [i for i, o in enumerate(out) if o[1] == "body"]
            last_body = body_idx[-1] if body_idx else None
            if (credit is None and last_body is not None and kind != "photo"
                    and out[last_body][0].endswith("。") and rng.random() < 0.12):
                c = rng.choice(RUN_ON_CREDITS)
                out[last_body][0] += c
                entry["trailing_credit"] = c
                entry["byline"] = entry["byline"] or c
                artefacts.append(f"run-on credit in {pid}")
            elif credit is None and last_body is not None and kind != "photo" and rng.random() < 0.06:
                c = rng.choice(OWN_LINE_CREDITS)
                out.insert(last_body + 1, [c, "credit"])
                entry["trailing_credit"] = c
                entry["byline"] = entry["byline"] or c
                artefacts.append(f"credit line in {pid}")
            if last_body is not None and rng.random() < 0.05:
                out.insert(len(out), [f"数据来源：{rng.choice(DATA_SOURCES)}", "furniture"])
                artefacts.append(f"data source in {pid}")
            if body_idx and rng.random() < 0.07:
                at = rng.choice(body_idx[1:] or body_idx) if rng.random() < 0.5 else len(out)
                out.insert(at, [rng.choice(PROMPTS), "furniture"])
                artefacts.append(f"prompt block in {pid}")
            if len(body_idx) >= 3 and kind != "photo" and rng.random() < 0.06:
                sentence = re.split(r"[，。]", squash(out[body_idx[1]][0]))[0][:24]
                if len(sentence) >= 6:
                    cap = f"图为{sentence}。 {made_up_name(rng, page_text)} 摄"
                    at = rng.choice(body_idx[1:])
                    out.insert(at, [cap, "caption"])
                    artefacts.append(f"caption block in {pid}")
        if damage and rng.random() < 0.35:
            cand = [i for i, o in enumerate(out) if o[1] in ("body", "lead")]
            if cand:
                i = rng.choice(cand)
                cb = column_break(out[i][0], rng)
                if cb:
                    out[i:i + 1] = [[cb[0], out[i][1]], [cb[1], "body_cont"]]
                    artefacts.append(f"column break in {pid}")
        displaced = False
        if damage and len(truth) >= 2 and rng.random() < 0.15 and len(out) >= 3:
            i = rng.randrange(0, min(3, len(out) - 1))
            cb = column_break(out[i][0], rng) if out[i][1] in ("body", "lead") else None
            if cb and not LEAD.match(cb[1]):
                headline = [(l, lab) for l, lab in ((kicker, "kicker"), (title, "title")) if l]
                out[i:i + 1] = [[cb[0], out[i][1]]] + [[l, lab + "_displaced"] for l, lab in headline] + [[cb[1], "body_cont"]]
                head = []
                if subtitle:
                    # A subtitle left above the text would start the item by itself.
                    entry["subtitle"] = None
                displaced = True
                artefacts.append(f"displaced headline of {pid}")
        if damage and not displaced and rng.random() < 0.3:
            ti = next((j for j, (_, lab) in enumerate(head) if lab == "title"), None)
            wrapped = wrap_headline(title, rng) if ti is not None else None
            if wrapped:
                head[ti:ti + 1] = [(w, "title") for w in wrapped]
                artefacts.append(f"wrapped headline of {pid}")
        for j, (l, lab) in enumerate(head):
            blocks.append((l, lab, pid, j == 0))
        for j, (l, lab) in enumerate(out):
            blocks.append((l, lab, pid, not head and j == 0))
    if damage and layout == "blocks" and rng.random() < 0.3:
        blocks.append((f"版式设计：{made_up_name(rng, page_text)}", "furniture", None, False))
    if layout == "raw":
        text = "\n".join(l for l, *_ in raw_lines) + "\n"
        labels = raw_lines
    else:
        text = "\n\n".join(b for b, *_ in blocks) + "\n"
        labels = blocks
    labels = [{"text": t, "label": lab, "item": i, "start": s} for t, lab, i, s in labels]
    return text, truth, artefacts, labels


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
    splits = 0
    os.makedirs(os.path.join(args.out, "labels"), exist_ok=True)
    for key in keys:
        if made >= args.pages:
            break
        items = sorted(by_page[key], key=lambda d: d["item"])
        layout = args.layout if args.layout != "mixed" else ("raw" if made % 4 == 3 else "blocks")
        skipped, split = [], []
        text, truth, artefacts, labels = build_page(items, layout, rng, not args.no_damage,
                                                    args.keep_roundups, skipped, split)
        roundups += len(skipped)
        splits += len(split)
        if len(truth) < 2:
            continue
        name = f"{key[0].replace('-', '')}-{key[1]}-{layout}"
        with open(os.path.join(args.out, "pages", name + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(args.out, "truth", name + ".json"), "w", encoding="utf-8") as f:
            json.dump({"page_file": f"pages/{name}.txt", "layout": layout, "artefacts": artefacts,
                       "articles": truth}, f, ensure_ascii=False, indent=1)
        with open(os.path.join(args.out, "labels", name + ".json"), "w", encoding="utf-8") as f:
            json.dump(labels, f, ensure_ascii=False, indent=0)
        made += 1
    print(f"{made} pages in {args.out} ({splits} round-ups split into their pieces, "
          f"{roundups} left off)")


if __name__ == "__main__":
    main()
