#!/usr/bin/env python3
"""Makes a small demo-like run for the browser test with the real `sextant` CLI.

usage: make_run.py SEXTANT_BIN ROOT WORKDIR [SCALE] [--sizes T,V,P] [--only-sentiment]

SCALE (default 1) multiplies the sizes: 900 training, 200 validation, 600 production.
--sizes sets demo/sentiment's three sizes instead (e.g. 100000,2000,100000 for the map's
lasso at 100k points), and --only-sentiment makes that run alone.

Clustered Gaussian embeddings, one cluster per class (as tests/e2e/conftest.py), logits
that mostly agree with the label; training, validation and a production set
(inference:prod_1) of which about a third is shifted away from training (drift).
A `source` column becomes sample metadata.

Then demo/daily (CLI, `import --time`): training, validation and six daily inference sets
(2026-11-20 to 25; names out of time order; two shifted), for the timeline page.

Then, through the Python API (`import sextant`, from the build folder next to SEXTANT_BIN
when it is not importable), two more runs of project `demo`: `ner` (tagged sentences,
tags O/B-/I- of PER, LOC, ORG in BIO; training, validation and the production set `social`,
some of whose posts drift; predicted tags with wrong_tag, span_shift, missed and ghost spans)
and `nli` (premise/hypothesis pairs; training, validation and `captions`, partly drifted).
Sizes: NER 300 / 100 / 150 sentences, NLI 400 / 100 / 200 pairs (times SCALE).
"""
import csv
import importlib
import pathlib
import subprocess
import sys

import numpy as np

LABELS = ["negative", "neutral", "positive"]
WORDS = {
    "negative": ["awful", "boring", "broken", "dull"],
    "neutral": ["plain", "average", "usual", "ordinary"],
    "positive": ["great", "lovely", "superb", "fun"],
}
DIM = 16


def write(folder, name, n, seed, centres, direction, drift_share=0.0, labeled=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), size=n)
    emb = centres[y] + rng.normal(scale=1.0, size=(n, DIM))
    drifted = rng.random(n) < drift_share
    emb[drifted] += 6.0 * direction
    logits = rng.normal(scale=1.0, size=(n, len(LABELS)))
    logits[np.arange(n), y] += rng.uniform(0.0, 3.0, size=n)
    ids = [f"{name}-{i}" for i in range(n)]
    texts = []
    for i in range(n):
        word = WORDS[LABELS[y[i]]][int(rng.integers(0, 4))]
        extra = " about crypto refunds" if drifted[i] else ""
        texts.append(f"Sample {i}: a {word} {name} review{extra}, row {i}")
    data = folder / f"{name}.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "source"] + (["label"] if labeled else []))
        for i in range(n):
            row = [ids[i], texts[i], "app" if i % 2 else "web"]
            w.writerow(row + ([LABELS[y[i]]] if labeled else []))
    np.save(folder / f"{name}.emb.npy", emb.astype(np.float32))
    np.save(folder / f"{name}.logits.npy", logits.astype(np.float32))
    return data, folder / f"{name}.emb.npy", folder / f"{name}.logits.npy"


def main():
    args = sys.argv[1:]
    only_sentiment = "--only-sentiment" in args
    args = [a for a in args if a != "--only-sentiment"]
    sizes = None
    if "--sizes" in args:
        i = args.index("--sizes")
        sizes = [int(v) for v in args[i + 1].split(",")]
        del args[i:i + 2]
    binary, root, work = args[0], pathlib.Path(args[1]), pathlib.Path(args[2])
    scale = float(args[3]) if len(args) > 3 else 1.0
    n = lambda k: max(10, int(k * scale))
    # --sizes: demo/sentiment's training, validation and production sizes as given.
    sn = (lambda k, i: sizes[i]) if sizes else (lambda k, i: n(k))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(LABELS), DIM)) * 3.0
    d = rng.normal(size=DIM)
    direction = d / np.linalg.norm(d)
    sets = [
        ("training", "training", None, write(work, "train", sn(900, 0), 1, centres, direction)),
        ("validation", "validation", None, write(work, "val", sn(200, 1), 2, centres, direction)),
        ("inference", "inference", "prod_1", write(work, "prod", sn(600, 2), 3, centres, direction, 0.35, labeled=False)),
    ]
    base = ["--root", str(root), "--project", "demo", "--run", "sentiment"]
    for _, split, inf, (data, emb, logits) in sets:
        cmd = [binary, "import", *base, "--split", split, "--data", str(data), "--embeddings", str(emb),
               "--logits", str(logits), "--labels", ",".join(LABELS), "--no-finish"]
        if inf:
            cmd += ["--inference-name", inf]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "finish", *base], check=True, stdout=subprocess.DEVNULL)
    if only_sentiment:
        return
    make_daily_run(binary, root, work, n, centres, direction)
    make_first_try_run(binary, root, work, centres, direction)
    dq = import_sextant(binary)
    make_ner_run(dq, root, n)
    make_nli_run(dq, root, n)


# Day i's inference set of demo/daily; the names are out of time order on purpose, and
# two days are shifted away from training (drift).
DAILY_SETS = ["kilo", "alpha", "zulu", "bravo", "yankee", "delta"]
DAILY_SHIFTED = {"zulu", "yankee"}


def make_daily_run(binary, root, work, n, centres, direction):
    """demo/daily: training, validation and six daily inference sets logged with `--time`
    (2026-11-20 to 2026-11-25), for the timeline page."""
    base = ["--root", str(root), "--project", "demo", "--run", "daily"]
    sets = [("training", None, None, write(work, "daily_train", n(300), 11, centres, direction)),
            ("validation", None, None, write(work, "daily_val", n(100), 12, centres, direction))]
    for i, name in enumerate(DAILY_SETS):
        shift = 0.6 if name in DAILY_SHIFTED else 0.0
        sets.append(("inference", name, f"2026-11-{20 + i}T06:00:00Z",
                     write(work, f"daily_{name}", n(80), 20 + i, centres, direction, shift, labeled=False)))
    for split, inf, time, (data, emb, logits) in sets:
        cmd = [binary, "import", *base, "--split", split, "--data", str(data), "--embeddings", str(emb),
               "--logits", str(logits), "--labels", ",".join(LABELS), "--no-finish"]
        if inf:
            cmd += ["--inference-name", inf, "--time", time]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "finish", *base], check=True, stdout=subprocess.DEVNULL)


def make_first_try_run(binary, root, work, centres, direction):
    """demo/first_try: a user's first try, 4 training samples (fewer than k + 1) and 30
    production samples: it finishes without drift, and says why (issue 16, point 10)."""
    base = ["--root", str(root), "--project", "demo", "--run", "first_try"]
    sets = [("training", None, write(work, "first_train", 4, 31, centres, direction)),
            ("inference", "first_prod", write(work, "first_prod", 30, 32, centres, direction, 0.3, labeled=False))]
    for split, inf, (data, emb, logits) in sets:
        cmd = [binary, "import", *base, "--split", split, "--data", str(data), "--embeddings", str(emb),
               "--logits", str(logits), "--labels", ",".join(LABELS), "--no-finish"]
        if inf:
            cmd += ["--inference-name", inf]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "finish", *base], check=True, stdout=subprocess.DEVNULL)


def import_sextant(binary):
    """The Python package: importable already, else build/python next to build/src/cli/sextant."""
    try:
        return importlib.import_module("sextant")
    except ImportError:
        sys.path.insert(0, str(pathlib.Path(binary).resolve().parents[2] / "python"))
        return importlib.import_module("sextant")


# ---------------------------------------------------------------- NER run

NER_TYPES = ["PER", "LOC", "ORG"]
NER_TAGS = ["O"] + [f"{p}-{t}" for t in NER_TYPES for p in ("B", "I")]
NER_NAMES = {
    "PER": ["Anna Weber", "John Smith", "Maria Lopez", "Ken Sato", "Lena", "Omar Haddad"],
    "LOC": ["Paris", "New York", "Berlin", "Lake Tahoe", "Lisbon", "Cape Town"],
    "ORG": ["Acme Corp", "the United Nations", "Globex", "Red Cross", "Initech", "City Bank"],
}
NER_SOCIAL_NAMES = {  # the production set's drifted posts: names and words never seen
    "PER": ["xoxo_jen", "Big Mike", "dj khaled"],
    "LOC": ["the bay", "nyc", "coachella"],
    "ORG": ["spotify", "the crypto dao", "uber eats"],
}
NER_TEMPLATES = [
    "{PER} met {PER} in {LOC} on Monday .",
    "{ORG} opened an office in {LOC} .",
    "{PER} , who works for {ORG} , lives in {LOC} .",
    "Shares of {ORG} rose after {PER} spoke .",
    "The weather in {LOC} was mild .",
]
NER_SOCIAL_TEMPLATES = [
    "omg {PER} at {LOC} rn lol",
    "{ORG} refund still pending smh",
    "who else is going to {LOC} with {PER} ??",
]


def ner_sentence(rng, templates, names):
    """(tokens, gold tags) of one filled template."""
    tokens, tags = [], []
    for word in templates[int(rng.integers(0, len(templates)))].split():
        if word.startswith("{"):
            kind = word[1:-1]
            entity = names[kind][int(rng.integers(0, len(names[kind])))].split()
            tokens += entity
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity) - 1)
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def bio_spans(tags):
    """(first token, end token, type) of each BIO span."""
    spans, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if prefix == "I" and t == kind:
            continue
        if kind is not None:
            spans.append((start, i, kind))
        start, kind = (i, t) if prefix == "B" else (None, None)
    return spans


def corrupt(rng, tags):
    """Predicted tags: mostly the gold ones, with some wrong_tag, span_shift, missed and
    ghost spans."""
    pred = list(tags)
    for a, b, kind in bio_spans(tags):
        r = rng.random()
        if r < 0.08:  # wrong_tag: same boundaries, another type
            other = NER_TYPES[(NER_TYPES.index(kind) + 1) % len(NER_TYPES)]
            pred[a:b] = [f"B-{other}"] + [f"I-{other}"] * (b - a - 1)
        elif r < 0.13:  # missed_label
            pred[a:b] = ["O"] * (b - a)
        elif r < 0.17 and b - a > 1:  # span_shift: the last token cut off
            pred[b - 1] = "O"
    outside = [i for i, t in enumerate(tags) if t == "O" and pred[i] == "O"]
    if outside and rng.random() < 0.1:  # ghost_span on a word outside every entity
        pred[outside[int(rng.integers(0, len(outside)))]] = f"B-{NER_TYPES[int(rng.integers(0, 3))]}"
    return pred


def make_ner_run(dq, root, n):
    rng = np.random.default_rng(10)
    dim = 16
    centres = {tag: rng.normal(size=dim) * 3.0 for tag in NER_TAGS}
    d = rng.normal(size=dim)
    direction = d / np.linalg.norm(d)
    dq.init(task_type="named_entity_recognition", project_name="demo", run_name="ner", root=str(root))
    dq.set_labels_for_run(NER_TAGS)
    dq.set_tagging_schema("BIO")
    sets = [("training", None, n(300), 0.0, (0, 1)), ("validation", None, n(100), 0.0, (1,)),
            ("inference", "social", n(150), 0.4, (1,))]
    for split, inference_name, size, drift_share, epochs in sets:
        texts, offsets, gold, embs, logits = [], [], [], [], []
        for i in range(size):
            drifted = rng.random() < drift_share
            tokens, tags = (ner_sentence(rng, NER_SOCIAL_TEMPLATES, NER_SOCIAL_NAMES) if drifted
                            else ner_sentence(rng, NER_TEMPLATES, NER_NAMES))
            starts = np.cumsum([0] + [len(t) + 1 for t in tokens[:-1]])
            tok = [(int(s), int(s) + len(t)) for s, t in zip(starts, tokens)]
            texts.append(" ".join(tokens))
            offsets.append(tok)
            gold.append([{"start": tok[a][0], "end": tok[b - 1][1], "label": kind}
                         for a, b, kind in bio_spans(tags)])
            pred = corrupt(rng, tags)
            e = np.stack([centres[t] for t in tags]) + rng.normal(size=(len(tags), dim))
            if drifted:
                e += 6.0 * direction
            lo = rng.normal(scale=0.5, size=(len(tags), len(NER_TAGS)))
            lo[np.arange(len(tags)), [NER_TAGS.index(t) for t in pred]] += rng.uniform(1.0, 4.0, size=len(tags))
            embs.append(e.astype(np.float32))
            logits.append(lo.astype(np.float32))
        ids = [f"{inference_name or split}-{i}" for i in range(size)]
        dq.log_data_samples(texts=texts, ids=ids, text_token_indices=offsets,
                            gold_spans=None if split == "inference" else gold, split=split,
                            inference_name=inference_name)
        for epoch in epochs:
            dq.set_split(split, inference_name)
            dq.set_epoch(epoch)
            for b in range(0, size, 32):
                dq.log_model_outputs(embs=embs[b:b + 32], logits=logits[b:b + 32], ids=ids[b:b + 32])
    dq.finish()


# ---------------------------------------------------------------- NLI run

NLI_LABELS = ["entailment", "neutral", "contradiction"]


def nli_pair(rng, drifted):
    if drifted:  # image captions instead of news-like sentences
        who = ["A dog", "Two kids", "A man in a red hat"][int(rng.integers(0, 3))]
        what = ["jumps over a log", "plays in the snow", "rides a skateboard"][int(rng.integers(0, 3))]
        premise = f"{who} {what} ."
    else:
        who = ["The minister", "The company", "A spokesman", "The council"][int(rng.integers(0, 4))]
        what = ["announced new taxes", "cut its budget", "denied the report", "approved the plan"][int(rng.integers(0, 4))]
        premise = f"{who} {what} on Tuesday , officials said ."
    label = int(rng.integers(0, 3))
    hypothesis = [f"{who} {what} .", f"{who} {what} for the second time .",
                  f"{who} did nothing ."][label]
    return premise, hypothesis, label


def make_nli_run(dq, root, n):
    rng = np.random.default_rng(20)
    dim = 16
    centres = rng.normal(size=(len(NLI_LABELS), dim)) * 3.0
    d = rng.normal(size=dim)
    direction = d / np.linalg.norm(d)
    dq.init(task_type="natural_language_inference", project_name="demo", run_name="nli", root=str(root))
    dq.set_labels_for_run(NLI_LABELS)
    sets = [("training", None, n(400), 0.0, (0, 1)), ("validation", None, n(100), 0.0, (1,)),
            ("inference", "captions", n(200), 0.5, (1,))]
    for split, inference_name, size, drift_share, epochs in sets:
        drifted = rng.random(size) < drift_share
        pairs = [nli_pair(rng, bool(x)) for x in drifted]
        y = np.array([p[2] for p in pairs])
        emb = centres[y] + rng.normal(size=(size, dim))
        emb[drifted] += 6.0 * direction
        logits = rng.normal(size=(size, len(NLI_LABELS)))
        logits[np.arange(size), y] += rng.uniform(0.0, 3.0, size=size)
        ids = [f"{inference_name or split}-{i}" for i in range(size)]
        dq.log_data_samples(premises=[p[0] for p in pairs], hypotheses=[p[1] for p in pairs], ids=ids,
                            labels=None if split == "inference" else [NLI_LABELS[k] for k in y],
                            split=split, inference_name=inference_name)
        for epoch in epochs:
            dq.set_split(split, inference_name)
            dq.set_epoch(epoch)
            for b in range(0, size, 64):
                dq.log_model_outputs(embs=emb[b:b + 64].astype(np.float32),
                                     logits=logits[b:b + 64].astype(np.float32), ids=ids[b:b + 64])
    dq.finish()


if __name__ == "__main__":
    main()
