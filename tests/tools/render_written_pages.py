#!/usr/bin/env python3
"""Renders the team-written test pages (tests/fixtures/written-pages/) from their sources.

Each page is written by hand as a source file `src/NAME.page`: the page's furniture and items
with every printed line tagged by its role (kicker, headline line, deck, byline, paragraph,
in-body subhead, credit, caption, QR prompt, furniture) and the damage marked where it sits
(column breaks, a displaced headline, credits run on at the end of a paragraph). This script
only lays out what was written: it prints the page text in its layout and derives the truth
file (`truth/FORMAT.md` of the shared data set) from the same source, so the two cannot
disagree. It shares no code or rule with the segmenter and decides nothing about text: every
role is given by the source's tags.

    python3 tests/tools/render_written_pages.py            # writes pages/ and truth/
    python3 tests/tools/render_written_pages.py --check    # fails if an output is stale

Python 3.11 standard library only; deterministic (same sources, byte-identical outputs).

# Source format

Blank lines and lines starting with `#` are ignored. Header lines (`@key value`):
`@newspaper`, `@date`, `@page_no`, `@edition` (版名), `@style` (metro, county, industry,
weekend), `@layout` (`blocks` or `raw`), `@about` (one line for the README), `@artefact`
(a free-text artefact added to the generated list).

`== ID KIND` starts an item (ids become `NAME-ID`; KIND is article, brief, photo or section);
`== ID KIND +` continues the previous crawler item (raw layout: its head lines are printed as
paragraph lines of that item, as crawlers do with a column of briefs); `== furn` starts a run of
page furniture outside any item. Item lines, printed in source order:

    kick: / kick+:    kicker line / its continuation block (a kicker wrapped over two blocks)
    title: / title+:  headline line / continuation (a headline printed over two or three lines)
    sub: / sub+:      deck (subtitle) line / continuation
    byline:           a byline on its own line (feature byline, a pupil's class and name)
    p:                a paragraph; `[[…]]` at its start marks the inline lead (本报讯(…), 晚报讯),
                      `{{…}}` at its end a source credit run on at the end of the last paragraph,
                      `¦` a column break (a blank line inserted mid-paragraph), `@@` the place the
                      item's head lines were displaced to
    h:                an in-body subhead (body text that must not start a new article)
    credit:           a credit or closing note on its own line at the end (not body)
    cap:              a photo caption, `text || credit` (printed on one line, credit after a space)
    qr:               a QR-code prompt block (furniture)
    furn:             a furniture line inside the item's flow (jump line, editor line)
    gap: N            N extra blank lines before the next block (blocks layout)
    safety:           `true TOPICS EVENT_KIND` or `false [TAGS]`, topics comma-separated
    note:             the annotator's note (joined into the entry's `notes`)
    byline_is:        override of the truth byline (`none` for null)
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "written-pages")
SAFETY = {"work_safety", "disaster_emergency", "fire", "traffic", "food_drug", "public_health"}
TAGS = {"public_security", "environment"}
KINDS = {"accident", "warning", "inspection", "governance", "training", "recovery"}
ITEM_KINDS = {"article", "brief", "photo", "section"}
HEAD_TAGS = ("kick", "kick+", "title", "title+", "sub", "sub+", "byline")
LINE_TAGS = set(HEAD_TAGS) | {"p", "h", "credit", "cap", "qr", "furn", "gap", "safety", "note", "byline_is"}
INDENT = "\u3000\u3000"
# Credits that name who wrote or supplied the item (the truth byline when nothing else is printed).
NOT_AUTHOR = re.compile(r"^(数据来源|资料来源|指导老师|——|.*——\s*编\s*者[）)]?$)")


class SourceError(Exception):
    pass


def squash(s):
    return "".join(c for c in s if not c.isspace())


class Item:
    def __init__(self, ident, kind, cont, lineno):
        self.id = ident
        self.kind = kind
        self.cont = cont
        self.lineno = lineno
        self.lines = []          # (tag, text)
        self.safety = None
        self.notes = []
        self.byline_is = None

    def head(self, tag):
        return "".join(t for g, t in self.lines if g in (tag, tag + "+")) or None


def parse(path):
    meta = {"artefact": []}
    items = []
    cur = None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("@"):
                key, _, val = line[1:].partition(" ")
                if key == "artefact":
                    meta["artefact"].append(val.strip())
                else:
                    meta[key] = val.strip()
                continue
            if line.startswith("== "):
                parts = line[3:].split()
                if parts == ["furn"]:
                    cur = Item(None, "furn", False, n)
                else:
                    if len(parts) not in (2, 3) or parts[1] not in ITEM_KINDS:
                        raise SourceError(f"{path}:{n}: bad item line {line!r}")
                    cur = Item(parts[0], parts[1], len(parts) == 3 and parts[2] == "+", n)
                items.append(cur)
                continue
            tag, sep, text = line.partition(": ")
            if not sep or tag not in LINE_TAGS:
                raise SourceError(f"{path}:{n}: unknown line {line!r}")
            if cur is None:
                raise SourceError(f"{path}:{n}: line outside an item")
            if tag == "safety":
                cur.safety = text.split()
            elif tag == "note":
                cur.notes.append(text.strip())
            elif tag == "byline_is":
                cur.byline_is = text.strip()
            else:
                if cur.kind == "furn" and tag != "furn" and tag != "gap":
                    raise SourceError(f"{path}:{n}: only furn lines in a furniture run")
                cur.lines.append((tag, text.strip()))
    return meta, items


def labels_of(item):
    """Safety fields of an item, checked against LABELS.md's rules."""
    where = f"item {item.id}"
    if item.kind == "section":
        if item.safety and item.safety[0] != "false":
            raise SourceError(f"{where}: a section is not safety")
        return False, [], None
    if not item.safety:
        raise SourceError(f"{where}: no safety line")
    flag = item.safety[0]
    if flag == "true":
        if len(item.safety) != 3:
            raise SourceError(f"{where}: safety: true TOPICS KIND")
        topics = item.safety[1].split(",")
        if topics[0] not in SAFETY or not set(topics) <= SAFETY | TAGS or item.safety[2] not in KINDS:
            raise SourceError(f"{where}: bad labels {item.safety}")
        return True, topics, item.safety[2]
    if flag == "false":
        topics = item.safety[1].split(",") if len(item.safety) > 1 else []
        if not set(topics) <= TAGS or len(item.safety) > 2:
            raise SourceError(f"{where}: bad labels {item.safety}")
        return False, topics, None
    raise SourceError(f"{where}: bad safety line")


LEAD = re.compile(r"^\[\[(.+?)\]\]")
RUNON = re.compile(r"\{\{(.+?)\}\}$")


def split_para(text):
    """(lead, printed text, body text, run-on credit) of a `p:` line, markers resolved except
    the column-break and displacement marks."""
    lead = None
    m = LEAD.match(text)
    if m:
        lead = m.group(1)
        text = text[m.end():]
    runon = None
    m = RUNON.search(text)
    if m:
        runon = m.group(1)
        text = text[:m.start()]
    printed = (lead or "") + text + (runon or "")
    return lead, printed, text, runon


def ctx(a, b):
    return f"{a[-6:]}|{b[:6]}"


def render_page(name, meta, items):
    layout = meta.get("layout", "blocks")
    if layout not in ("blocks", "raw"):
        raise SourceError(f"{name}: layout must be blocks or raw")
    blocks = []        # (text, label, entry index), text None = extra blank line
    raw_lines = []     # raw layout: (text, label, entry)
    artefacts = []
    entries = []
    entry_of = {}
    idx = -1
    for item in items:
        if item.kind != "furn":
            idx += 1
            entry_of[id(item)] = idx
    ids = set()

    for item in items:
        if item.kind == "furn":
            for tag, text in item.lines:
                if tag == "gap":
                    blocks += [(None, None, None)] * int(text)
                    continue
                if layout == "raw":
                    raise SourceError(f"{name}: page furniture outside items in a raw page")
                blocks.append((text, "furn", -1))
                artefacts.append(f"page furniture: {text}")
            continue
        e = entry_of[id(item)]
        full_id = f"{name}-{item.id}"
        if full_id in ids:
            raise SourceError(f"{name}: duplicate id {full_id}")
        ids.add(full_id)
        safety, topics, kind = labels_of(item)

        head = []          # (text, label) head lines before the first paragraph
        flow = []          # (text, label) everything else, in order
        lead = None
        body_parts = []
        inner = []
        credits = []
        runon = None
        caption = None
        seen_body = False
        displaced = False
        wraps = {}
        for tag, text in item.lines:
            if tag in HEAD_TAGS:
                if seen_body:
                    raise SourceError(f"{full_id}: head line after the body")
                label = {"kick": "kick", "kick+": "kick+", "title": "title", "title+": "title+",
                         "sub": "sub", "sub+": "sub+", "byline": "byline"}[tag]
                head.append((text, label))
                if tag.endswith("+"):
                    wraps.setdefault(tag[:-1], [head[-2][0]]).append(text)
                continue
            if tag == "gap":
                flow.append((None, int(text)))
                continue
            seen_body = True
            if tag in ("p", "h"):
                if credits:
                    raise SourceError(f"{full_id}: paragraph after a credit line")
                if runon:
                    raise SourceError(f"{full_id}: paragraph after a run-on credit")
                p_lead, printed, body, p_runon = split_para(text) if tag == "p" else (None, text, text, None)
                if p_lead:
                    if body_parts:
                        raise SourceError(f"{full_id}: lead not on the first paragraph")
                    lead = p_lead
                if p_runon:
                    runon = p_runon
                if "@@" in printed:
                    if displaced or layout == "raw":
                        raise SourceError(f"{full_id}: bad displacement mark")
                    displaced = True
                body_parts.append(body.replace("¦", "").replace("@@", ""))
                if tag == "h":
                    inner.append(text)
                flow.append((printed, "h" if tag == "h" else "p"))
            elif tag == "credit":
                credits.append(text)
                flow.append((text, "credit"))
            elif tag == "cap":
                if item.kind != "photo":
                    raise SourceError(f"{full_id}: a caption belongs in a photo item")
                cap_text, sep, credit = text.partition(" || ")
                caption = (cap_text.strip(), credit.strip() if sep else None)
                printed = cap_text.strip() + (" " + credit.strip() if sep else "")
                flow.append((printed, "caption"))
            elif tag in ("qr", "furn"):
                flow.append((text, "furn"))
                artefacts.append(("QR prompt" if tag == "qr" else "furniture") + f" after {full_id}: {text}")

        # Where the head lines go: on top, or displaced into a paragraph.
        out = []
        for text, label in flow:
            if text is None:
                out.append((None, label))
                continue
            if label in ("p", "h"):
                lab = "subhead" if label == "h" else "body"
                pieces = text.split("@@")
                seq = []
                for k, piece in enumerate(pieces):
                    sub = piece.split("¦")
                    for j, s in enumerate(sub):
                        seq.append((s.strip(), lab if (k == 0 and j == 0) else "body+"))
                        if j + 1 < len(sub):
                            artefacts.append(f"column break {ctx(squash(s), squash(sub[j + 1]))} in {full_id}")
                    if k + 1 < len(pieces):
                        artefacts.append(f"displaced headline of {full_id} into its paragraph "
                                         f"({ctx(squash(piece), squash(pieces[k + 1]))})")
                        seq.append(("@@", None))
                out += seq
            else:
                out.append((text, label))
        if displaced:
            first_body = next(i for i, (t, l) in enumerate(out) if l in ("body", "subhead"))
            out[first_body] = (out[first_body][0], "start")
            at = next(i for i, (t, l) in enumerate(out) if t == "@@")
            out[at:at + 1] = head
            head = []
        else:
            out = head + out
        for kind_, parts in wraps.items():
            artefacts.append(f"{ {'title': 'headline', 'kick': 'kicker', 'sub': 'deck'}[kind_] } of {full_id} "
                             f"printed over {len(parts)} blocks ({'|'.join(parts)})")
        if runon:
            artefacts.append(f"credit run on at the end of {full_id}: {runon}")
        for c in credits:
            artefacts.append(f"credit line at the end of {full_id}: {c}")

        if layout == "blocks":
            for text, label in out:
                if text is None:
                    blocks += [(None, None, None)] * label
                else:
                    blocks.append((text, label, e))
        else:
            if not item.cont:
                raw_lines.append((item.head("kick") or "", "kick", e))
                raw_lines.append((item.head("title") or "", "sec" if item.kind == "section" else "title", e))
                raw_lines.append((item.head("sub") or "", "sub", e))
                rest = [(t, l) for t, l in out if l not in ("kick", "kick+", "title", "title+", "sub", "sub+")]
            else:
                rest = [(t, l) for t, l in out]
                if item.kind == "section":
                    rest = [(t, "sec" if l == "title" else l) for t, l in rest]
            for text, label in rest:
                if text is None:
                    continue
                if label in ("kick+", "title+", "sub+"):
                    raise SourceError(f"{full_id}: wrapped head lines in a raw page")
                raw_lines.append((INDENT + text, label, e))

        # Truth entry.
        body = squash("".join(body_parts))
        if item.kind == "photo":
            if not caption:
                raise SourceError(f"{full_id}: photo without caption")
            body = squash(caption[0])
        if item.kind == "section":
            if body:
                raise SourceError(f"{full_id}: a section has no body")
        elif len(body) < 4:
            raise SourceError(f"{full_id}: empty body")
        if item.byline_is is not None:
            byline = None if item.byline_is == "none" else item.byline_is
        elif item.kind == "photo":
            byline = caption[1]
        else:
            byline_lines = [t for g, t in item.lines if g == "byline"]
            author_credits = [c for c in ([runon] if runon else []) + credits if not NOT_AUTHOR.match(c)]
            byline = (" ".join(byline_lines) if byline_lines else None) or (lead.strip() if lead else None) or \
                (author_credits[0] if author_credits else None)
        all_credits = ([runon] if runon else []) + credits
        entries.append({
            "id": full_id,
            "kind": item.kind,
            "kicker": item.head("kick"),
            "title": item.head("title"),
            "subtitle": item.head("sub"),
            "byline": byline,
            "trailing_credit": "\n".join(all_credits) or None,
            "first_chars": body[:20] if body else None,
            "last_chars": body[-20:] if body else None,
            "inner_headings": inner,
            "safety": safety,
            "topics": topics,
            "event_kind": kind,
            "notes": " ".join(item.notes),
        })

    if layout == "blocks":
        parts = []
        lines = []
        for text, label, e in blocks:
            if text is None:
                parts.append("")
                continue
            parts.append(text)
            lines.append([label, e])
        # one blank line between blocks; a `gap` adds empty blocks (more blank lines)
        text = "\n\n".join(parts) + "\n"
    else:
        text = "\n".join(t for t, _, _ in raw_lines) + "\n"
        lines = [[l, e] for t, l, e in raw_lines if t.strip()]
    artefacts += meta["artefact"]
    layout_doc = {
        "blocks": "blocks: every printed line one block, one blank line between blocks; inline "
                  "leads stay at the start of the first paragraph; captions and credits on one line",
        "raw": "raw dump: per crawler item a kicker line, headline line and subtitle line (empty when "
               "absent), then paragraphs on single lines indented with two full-width spaces",
    }[layout]
    truth = {
        "source": "written by writer-e (pagesift team): invented page in the style of a "
                  f"{meta.get('style', '?')} paper, not a real page; rendered from "
                  f"tests/fixtures/written-pages/src/{name}.page by tests/tools/render_written_pages.py",
        "written": True,
        "page_file": f"pages/{name}.txt",
        "newspaper": meta.get("newspaper"),
        "date": meta.get("date"),
        "page_no": meta.get("page_no"),
        "edition": meta.get("edition"),
        "style": meta.get("style"),
        "about": meta.get("about"),
        "layout": layout_doc,
        "artefacts": artefacts,
        "articles": entries,
        "lines": lines,
    }
    check(name, text, truth)
    return text, truth


def check(name, text, truth):
    """The truth against the page: every body start and end in page order, titles printed,
    ids unique."""
    flat = squash(text)
    seen = set()
    cursor = 0
    for e in truth["articles"]:
        if e["id"] in seen:
            raise SourceError(f"{name}: duplicate id {e['id']}")
        seen.add(e["id"])
        for field in ("kicker", "title", "subtitle", "byline"):
            v = e[field]
            if v and squash(v) not in flat:
                raise SourceError(f"{e['id']}: {field} {v!r} not in the page")
        if e["first_chars"] is None:
            continue
        at = flat.find(e["first_chars"], cursor)
        if at < 0:
            raise SourceError(f"{e['id']}: first_chars not found after the previous entry")
        end = flat.find(e["last_chars"], at)
        if end < 0:
            raise SourceError(f"{e['id']}: last_chars not found after first_chars")
        cursor = at + 1
    n_lines = sum(1 for l in text.split("\n") if l.strip())
    if n_lines != len(truth["lines"]):
        raise SourceError(f"{name}: {n_lines} printed lines, {len(truth['lines'])} labels")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if an output differs from its source")
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    src = os.path.join(args.root, "src")
    names = sorted(f[:-5] for f in os.listdir(src) if f.endswith(".page"))
    stale = []
    for name in names:
        meta, items = parse(os.path.join(src, name + ".page"))
        text, truth = render_page(name, meta, items)
        outs = {
            os.path.join(args.root, "pages", name + ".txt"): text,
            os.path.join(args.root, "truth", name + ".json"):
                json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
        }
        for path, content in outs.items():
            if args.check:
                try:
                    with open(path, encoding="utf-8") as f:
                        if f.read() != content:
                            stale.append(path)
                except FileNotFoundError:
                    stale.append(path)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    f.write(content)
    if stale:
        print("stale outputs (run without --check):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    print(f"{len(names)} pages {'checked' if args.check else 'written'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
