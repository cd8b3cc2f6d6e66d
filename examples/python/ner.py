#!/usr/bin/env python3
"""Named-entity recognition on Sextant: trains a BiLSTM tagger on CoNLL-2003 and
logs it, then attaches production data from another domain (WNUT-17 social-media
posts) to the same run, finishes it and prints what Sextant found.

    /usr/bin/python3 examples/python/ner.py --root .sextant-demo --project demo --run ner

The same flow as the text-classification example (train.py, infer.py): the
Dataset logs itself (texts, token offsets, gold spans), a MonitoredTagger's
forward pass logs the per-token embeddings and logits. What differs for NER:

* labels are the full tag list in logit order (O, B-LOC, I-LOC, ...) and the run
  has a tagging schema (BIO);
* a sample's text is its tokens joined by single spaces, ``text_token_indices``
  the (start, end) character offsets of each token, ``gold_spans`` the entities
  decoded from the BIO tags as character offsets;
* the outputs are one row per token: padded [B, T_max, D] embeddings (the BiLSTM
  output, the layer before the tag classifier) and [B, T_max, C] logits, cut by
  the engine to each sample's token count.

Splits: training (every epoch), validation (every epoch), CoNLL test as the
labeled ``test`` split, and two inference sets: ``conll_test`` (in domain, the
control) and ``wnut17`` (shifted; tags mapped onto CoNLL's types). Without
$SEXTANT_DATA (default ../shared/data) it runs on generated newswire sentences and
a generated social-media set.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import random
import re
import sys
import time
from typing import Any, Optional, Sequence

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from findings import domain_test_text  # noqa: E402
from sentiment import data_dir  # noqa: E402

import sextant as dq  # noqa: E402

TYPES = ["LOC", "MISC", "ORG", "PER"]
TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in ("B", "I")]  # logit order


# ---------------------------------------------------------------------- data

def read_jsonl(path: pathlib.Path, tags: str = "tags", max_rows: Optional[int] = None,
               seed: int = 0) -> list[dict[str, Any]]:
    """Rows {id, tokens, tags}; `tags` names the tag field (wnut17: tags_conll_mapped)."""
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [{"id": r["id"], "tokens": r["tokens"], "tags": r[tags]} for r in rows if r["tokens"]]
    if max_rows and len(rows) > max_rows:
        keep = sorted(random.Random(seed).sample(range(len(rows)), max_rows))
        rows = [rows[i] for i in keep]
    return rows


def has_conll(data: Optional[pathlib.Path] = None) -> bool:
    return ((data or data_dir()) / "conll2003" / "train.jsonl").is_file()


def load_data(max_train: Optional[int] = None, max_eval: Optional[int] = None,
              ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]], str]:
    """({training, validation, test}, {inference name: rows}, description)."""
    data = data_dir()
    if has_conll(data):
        conll = data / "conll2003"
        labeled = {"training": read_jsonl(conll / "train.jsonl", max_rows=max_train),
                   "validation": read_jsonl(conll / "validation.jsonl", max_rows=max_eval),
                   "test": read_jsonl(conll / "test.jsonl", max_rows=max_eval)}
        production = {"conll_test": labeled["test"]}
        wnut = data / "wnut17" / "test.jsonl"
        if wnut.is_file():
            production["wnut17"] = read_jsonl(wnut, "tags_conll_mapped", max_rows=max_eval)
        return labeled, production, f"CoNLL-2003 and WNUT-17 from {data}"
    n = max_train or 3000
    m = max_eval or max(200, n // 5)
    labeled = {"training": generate(n, "news", 1, "news-train-"),
               "validation": generate(m, "news", 2, "news-val-"),
               "test": generate(m, "news", 3, "news-test-")}
    production = {"news_test": labeled["test"], "social": generate(m, "social", 4, "social-")}
    return labeled, production, f"generated news and social-media sentences ({data / 'conll2003'} not found)"


# Generated data: newswire-like sentences (the training domain) and social-media
# posts (the production domain) whose names, casing and words the model has not seen.

_NEWS = {
    "PER": ["Peter Blackburn", "John Major", "Helmut Kohl", "Boris Yeltsin", "Maria Garcia", "Anna Schmidt",
            "Bill Clinton", "Yasser Arafat", "Nelson Mandela", "Steffi Graf", "Pete Sampras", "Ronaldo",
            "Jacques Chirac", "Tony Blair", "Michael Schumacher", "Wasim Akram", "Greg Norman", "Martina Hingis"],
    "LOC": ["Brussels", "Germany", "Britain", "Paris", "New York", "Moscow", "Bonn", "Tokyo", "Israel",
            "South Africa", "London", "Washington", "Sydney", "Iraq", "Beijing", "Lebanon", "Sri Lanka", "Chicago"],
    "ORG": ["European Commission", "Reuters", "Manchester United", "United Nations", "NATO", "Ford",
            "Bundesbank", "Chelsea", "Ajax", "Treasury", "IBM", "Parliament", "Inter Milan", "World Bank",
            "Microsoft", "Lazio", "Commerzbank", "Labour"],
    "MISC": ["German", "British", "French", "European", "Israeli", "World Cup", "Olympic", "Russian",
             "Iraqi", "Palestinian", "Dutch", "Wimbledon", "Grand Prix", "Japanese", "Australian", "Cup"],
}
_SOCIAL = {  # names the news model never saw, often lower-cased
    "PER": ["taylor swift", "Justin Bieber", "kanye", "Zayn", "Selena Gomez", "elon", "Ariana Grande",
            "drake", "Beyonce", "Harry Styles", "ed sheeran", "Rihanna"],
    "LOC": ["brooklyn", "Coachella", "Miami", "vegas", "Seattle", "Austin", "portland", "Dubai"],
    "ORG": ["netflix", "Spotify", "Starbucks", "uber", "Twitter", "YouTube", "Tesla", "snapchat"],
    "MISC": ["iPhone", "Game of Thrones", "fortnite", "Stranger Things", "Xbox", "Minecraft"],
}
_NEWS_TEMPLATES = [
    "{PER} , chairman of {ORG} , said on Thursday that the group would open an office in {LOC} .",
    "{ORG} beat {ORG} 2-1 in {LOC} on Sunday .",
    "{MISC} officials met {PER} in {LOC} to discuss the plan .",
    "The {MISC} team arrived in {LOC} on Monday , a spokesman for {ORG} said .",
    "Shares in {ORG} rose 3 percent after {PER} said profits would double .",
    "{LOC} 1996-08-22",
    "{PER} told {ORG} that {MISC} exports to {LOC} fell last year .",
    "Police in {LOC} arrested two men on Friday , the {MISC} news agency said .",
    "{PER} ( {LOC} ) beat {PER} ( {LOC} ) 6-3 6-4",
    "The {ORG} said it expected {MISC} growth of 2.5 percent .",
    "{PER} will visit {LOC} next week , {ORG} said in a statement .",
    "Prices were little changed in {LOC} trading on Tuesday .",
]
_SOCIAL_TEMPLATES = [
    "omg {PER} just dropped a new song !! #blessed",
    "anyone else at {LOC} tonight ? lol",
    "{ORG} customer service is the worst smh",
    "cant stop watching {MISC} on {ORG} lmao",
    "@user u going to see {PER} in {LOC} ??",
    "new {MISC} came out and i already broke it lol",
    "ok but {PER} and {PER} tho",
    "stuck in traffic in {LOC} again ... wish i had {ORG}",
    "lol",
    "free coffee at {ORG} this morning , best day ever :)",
]


def _fill(rng: random.Random, template: str, names: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    for word in template.split():
        m = re.fullmatch(r"\{(\w+)\}", word)
        if not m:
            tokens.append(word)
            tags.append("O")
            continue
        entity = rng.choice(names[m.group(1)]).split()
        tokens += entity
        tags += [f"B-{m.group(1)}"] + [f"I-{m.group(1)}"] * (len(entity) - 1)
    return tokens, tags


def generate(n: int, domain: str, seed: int, prefix: str) -> list[dict[str, Any]]:
    """`n` sentences {id, tokens, tags}: domain "news" (training-like) or "social"
    (shifted: social-media posts with unseen, often lower-cased names)."""
    if domain not in ("news", "social"):
        raise ValueError(f"domain {domain!r}: expected news or social")
    rng = random.Random(f"{domain}:{seed}")
    templates, names = (_NEWS_TEMPLATES, _NEWS) if domain == "news" else (_SOCIAL_TEMPLATES, _SOCIAL)
    rows = []
    for i in range(n):
        tokens, tags = _fill(rng, rng.choice(templates), names)
        rows.append({"id": f"{prefix}{i:06d}", "tokens": tokens, "tags": tags})
    return rows


# ------------------------------------------------------ text, offsets, spans

def token_offsets(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The text (tokens joined by single spaces) and each token's (start, end)."""
    offsets = []
    pos = 0
    for t in tokens:
        offsets.append((pos, pos + len(t)))
        pos += len(t) + 1
    return " ".join(tokens), offsets


def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Strict BIO decoding: (first token, last token + 1, type); an I- tag that does
    not continue a span of its type starts nothing."""
    spans = []
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if prefix == "I" and kind == t:
            continue
        if kind is not None:
            spans.append((start, i, kind))
        start, kind = (i, t) if prefix == "B" else (None, None)
    return spans


def char_spans(tags: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"start": offsets[a][0], "end": offsets[b - 1][1], "label": t}
            for a, b, t in bio_spans(tags)]


# ------------------------------------------------------------------ features

def normalize(word: str) -> str:
    return re.sub(r"\d", "0", word.lower())


def casing(word: str) -> int:
    """0 pad, 1 lower, 2 Title, 3 UPPER, 4 has a digit, 5 punctuation, 6 other."""
    if any(c.isdigit() for c in word):
        return 4
    if word.islower():
        return 1
    if word.isupper():
        return 3
    if word[:1].isupper():
        return 2
    if not any(c.isalnum() for c in word):
        return 5
    return 6


class Vocab:
    """Normalized words seen at least twice in training (0 pad, 1 unknown) and characters."""

    def __init__(self, sentences: Sequence[Sequence[str]] = (), min_count: int = 2, max_chars: int = 20):
        words = collections.Counter(normalize(w) for s in sentences for w in s)
        chars = collections.Counter(c for s in sentences for w in s for c in w)
        self.words = [w for w, c in words.most_common() if c >= min_count]
        self.chars = [c for c, n in chars.most_common() if n >= 2]
        self.max_chars = max_chars
        self._index()

    def _index(self) -> None:
        self.word_index = {w: i + 2 for i, w in enumerate(self.words)}
        self.char_index = {c: i + 2 for i, c in enumerate(self.chars)}

    def encode(self, tokens: Sequence[str]) -> tuple[list[int], list[list[int]], list[int]]:
        words = [self.word_index.get(normalize(t), 1) for t in tokens]
        chars = [[self.char_index.get(c, 1) for c in t[: self.max_chars]] for t in tokens]
        return words, chars, [casing(t) for t in tokens]

    def state_dict(self) -> dict[str, Any]:
        return {"words": self.words, "chars": self.chars, "max_chars": self.max_chars}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Vocab":
        v = cls(max_chars=state["max_chars"])
        v.words, v.chars = list(state["words"]), list(state["chars"])
        v._index()
        return v


# --------------------------------------------------------------------- model

class BiLSTMTagger(nn.Module):
    """Word embeddings (learned from scratch) + a character CNN + a casing
    feature, a BiLSTM, a linear tag classifier. forward(batch) returns
    (token embeddings [B, T, 2*hidden], logits [B, T, tags]); the token
    embedding is the BiLSTM output, the layer before the classifier."""

    def __init__(self, n_words: int, n_chars: int, num_tags: int, word_dim: int = 100,
                 char_dim: int = 24, char_filters: int = 48, case_dim: int = 8, hidden: int = 128,
                 dropout: float = 0.33):
        super().__init__()
        self.config = {"n_words": n_words, "n_chars": n_chars, "num_tags": num_tags,
                       "word_dim": word_dim, "char_dim": char_dim, "char_filters": char_filters,
                       "case_dim": case_dim, "hidden": hidden, "dropout": dropout}
        self.words = nn.Embedding(n_words, word_dim, padding_idx=0)
        self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.char_cnn = nn.Conv1d(char_dim, char_filters, kernel_size=3, padding=1)
        self.case = nn.Embedding(7, case_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(word_dim + char_filters + case_dim, hidden, batch_first=True,
                            bidirectional=True)
        self.classifier = nn.Linear(2 * hidden, num_tags)

    def forward(self, batch: dict[str, torch.Tensor]):
        words, chars, case, lengths = batch["words"], batch["chars"], batch["case"], batch["lengths"]
        b, t, c = chars.shape
        ch = self.chars(chars.view(b * t, c)).transpose(1, 2)            # [B*T, char_dim, C]
        ch = torch.relu(self.char_cnn(ch)).masked_fill(chars.view(b * t, 1, c) == 0, 0.0)
        ch = ch.max(2).values.view(b, t, -1)                             # [B, T, filters]
        x = torch.cat([self.words(words), ch, self.case(case)], dim=2)
        x = nn.utils.rnn.pack_padded_sequence(self.dropout(x), lengths, batch_first=True,
                                              enforce_sorted=False)
        out, _ = self.lstm(x)
        emb, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        return emb, self.classifier(self.dropout(emb))


class MonitoredTagger(nn.Module):
    """Wraps any tagger returning (token embeddings, token logits), padded
    [B, T_max, D] and [B, T_max, C]: its forward pass logs both to Sextant for the
    batch's sample ids (the engine keeps each sample's first T_i rows), then
    returns the logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor], ids: Sequence[str]):
        emb, logits = self.model(batch)
        dq.log_model_outputs(embs=emb, logits=logits, ids=ids)
        return logits


# ------------------------------------------------------------------- dataset

class NerDataset(torch.utils.data.Dataset):
    """Sentences {id, tokens[, tags]}; logs itself to Sextant when built: the
    text, its token offsets and (labeled splits) the gold spans."""

    def __init__(self, rows: Sequence[dict[str, Any]], vocab: Vocab, split: str,
                 inference_name: Optional[str] = None):
        self.ids = [str(r["id"]) for r in rows]
        self.inputs = [vocab.encode(r["tokens"]) for r in rows]
        labeled = split != "inference"
        # Tags are kept where the rows have them (inference too, for our own
        # score), but logged as gold spans only for labeled splits.
        self.tags = [[TAGS.index(t) if t in TAGS else 0 for t in r.get("tags") or ["O"] * len(r["tokens"])]
                     for r in rows]
        texts, offsets = zip(*(token_offsets(r["tokens"]) for r in rows)) if rows else ((), ())
        gold = [char_spans(r["tags"], o) for r, o in zip(rows, offsets)] if labeled else None
        dq.log_data_samples(texts=list(texts), ids=self.ids, text_token_indices=list(offsets),
                            gold_spans=gold, split=split, inference_name=inference_name)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return self.ids[i], self.inputs[i], self.tags[i]


def collate(batch):
    ids = [b[0] for b in batch]
    lengths = torch.tensor([len(b[1][0]) for b in batch])
    t = int(lengths.max())
    c = max(len(w) for b in batch for w in b[1][1])
    words = torch.zeros(len(batch), t, dtype=torch.long)
    case = torch.zeros(len(batch), t, dtype=torch.long)
    chars = torch.zeros(len(batch), t, c, dtype=torch.long)
    tags = torch.full((len(batch), t), -100, dtype=torch.long)  # -100: ignored by the loss
    for i, (_, (w, ch, cs), tg) in enumerate(batch):
        words[i, : len(w)] = torch.tensor(w)
        case[i, : len(cs)] = torch.tensor(cs)
        tags[i, : len(tg)] = torch.tensor(tg)
        for j, cc in enumerate(ch):
            chars[i, j, : len(cc)] = torch.tensor(cc)
    return ids, {"words": words, "chars": chars, "case": case, "lengths": lengths}, tags


class LengthBatches(torch.utils.data.Sampler):
    """Batches of sentences of similar length (little padding, so a fraction of the
    LSTM's work): shuffled pools of 50 batches, sorted by length inside each pool,
    cut into batches, the batches shuffled. Without shuffle: sorted by length."""

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0):
        self.lengths, self.batch_size, self.shuffle = list(lengths), batch_size, shuffle
        self.rng = random.Random(seed)

    def __iter__(self):
        order = list(range(len(self.lengths)))
        pool = 50 * self.batch_size if self.shuffle else len(order)
        if self.shuffle:
            self.rng.shuffle(order)
        batches = []
        for k in range(0, len(order), pool):
            chunk = sorted(order[k:k + pool], key=lambda i: self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def make_loader(dataset: "NerDataset", batch_size: int = 128, shuffle: bool = False):
    lengths = [len(x[0]) for x in dataset.inputs]
    return torch.utils.data.DataLoader(dataset, batch_sampler=LengthBatches(lengths, batch_size, shuffle),
                                       collate_fn=collate)


def word_dropout(words: torch.Tensor, p: float) -> torch.Tensor:
    """Replaces known words by <unk> with probability p, so <unk> is learned."""
    drop = (torch.rand(words.shape) < p) & (words > 1)
    return words.masked_fill(drop, 1)


# ---------------------------------------------------------------- evaluation

def evaluate(model: MonitoredTagger, loader) -> dict[str, float]:
    """Runs (and so logs) the model over a loader; our own span precision, recall
    and F1 against the dataset's tags (exact boundaries and type, strict BIO)."""
    model.eval()
    gold_n = pred_n = correct = 0
    with torch.no_grad():
        for ids, batch, tags in loader:
            logits = model(batch, ids)
            pred = logits.argmax(2)
            for i, n in enumerate(batch["lengths"].tolist()):
                g = set(bio_spans([TAGS[k] for k in tags[i, :n].tolist()]))
                p = set(bio_spans([TAGS[k] for k in pred[i, :n].tolist()]))
                gold_n, pred_n, correct = gold_n + len(g), pred_n + len(p), correct + len(g & p)
    precision = correct / max(pred_n, 1)
    recall = correct / max(gold_n, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return {"precision": precision, "recall": recall, "f1": f1}


def save(path: pathlib.Path, model: BiLSTMTagger, vocab: Vocab) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state": model.state_dict(), "vocab": vocab.state_dict(),
                "tags": TAGS}, path)


def load(path: pathlib.Path) -> tuple[BiLSTMTagger, Vocab, list[str]]:
    saved = torch.load(path)
    model = BiLSTMTagger(**saved["config"])
    model.load_state_dict(saved["state"])
    return model, Vocab.from_state_dict(saved["vocab"]), list(saved["tags"])


# ------------------------------------------------------------------- results

def _fraction(df, column: str) -> Optional[float]:
    if df is None or len(df) == 0 or column not in df.columns:
        return None
    values = df[column].dropna()
    return float(values.astype(bool).mean()) if len(values) else None


def results(project: str, run: str, root: Optional[str]) -> dict[str, Any]:
    """Per split: span precision, recall, F1 (labeled splits) and the share of span
    rows drifted (inference) or out of coverage (validation, test), read back
    through dq.get_summary and dq.get_span_dataframe."""
    summary = dq.get_summary(project_name=project, run_name=run, root=root)
    out: dict[str, Any] = {}
    for name, s in summary["splits"].items():
        split, _, inference_name = name.partition(":")
        spans = dq.get_span_dataframe(split, inference_name or None, project_name=project,
                                      run_name=run, root=root)
        metrics = s.get("spans") or {}
        out[name] = {
            "samples": s.get("samples"),
            "span_rows": int(len(spans)),
            "precision": metrics.get("precision"), "recall": metrics.get("recall"),
            "f1": metrics.get("f1"),
            "error_types": metrics.get("error_types"),
            "drifted": _fraction(spans, "is_drifted"),
            "summary_drift": ((metrics.get("span_drift") or metrics.get("span_out_of_coverage")
                               or {}).get("fraction")),
            "sample_drift": (s.get("drifted") or s.get("out_of_coverage") or {}).get("fraction"),
            "domain_test": s.get("domain_test"),
            "mean_confidence": float(spans["confidence"].mean()) if len(spans) else None,
            "most_drifted": ([] if not len(spans) or spans["drift_score"].isna().all() else
                             [(r.span_text, r.pred, round(float(r.drift_score), 3))
                              for r in spans.sort_values("drift_score", ascending=False)
                              .head(5).itertuples()]),
        }
    return out


def pct(x: Optional[float]) -> str:
    return "    -  " if x is None else f"{100 * x:6.1f}%"


def print_results(figures: dict[str, Any]) -> None:
    """Span rows drifted: inference sets; out of coverage: validation and test (the
    same k-NN distance to the training span rows, the threshold from validation)."""
    print(f"\n{'split':22} {'sentences':>9} {'spans':>7} {'P':>7} {'R':>7} {'F1':>7} "
          f"{'spans drifted':>14} {'sentences drifted':>18} {'span conf':>9}")
    for name, f in figures.items():
        conf = "-" if f["mean_confidence"] is None else f"{f['mean_confidence']:.3f}"
        print(f"{name:22} {f['samples'] or 0:9d} {f['span_rows']:7d} {pct(f['precision'])} "
              f"{pct(f['recall'])} {pct(f['f1'])} {pct(f['drifted']):>14} "
              f"{pct(f['sample_drift']):>18} {conf:>9}")
    for name, f in figures.items():
        if f.get("error_types"):
            kinds = ", ".join(f"{k} {v}" for k, v in f["error_types"].items())
            print(f"{name} span rows by error type: {kinds}")
    inference = {k.split(":", 1)[1]: f for k, f in figures.items() if k.startswith("inference:")}
    if inference:
        line = ", ".join(f"{k} {pct(f['drifted']).strip()}" for k, f in inference.items())
        reference = figures.get("validation", {}).get("drifted")
        print(f"span rows drifted per inference set: {line} (validation out of coverage "
              f"{pct(reference).strip()})")
    for name, f in inference.items():
        shown = ", ".join(f"{text!r} {pred} ({score})" for text, pred, score in f["most_drifted"])
        print(f"{name} most drifted spans: {shown or '-'}")
    for name, f in inference.items():
        line = domain_test_text(f.get("domain_test"))
        if line:
            print(f"{name} sentences: {line}")


# ---------------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="store root (default $SEXTANT_HOME, else ~/.sextant)")
    p.add_argument("--project", default="demo")
    p.add_argument("--run", default="ner")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train", type=int, default=None, help="use at most N training sentences")
    p.add_argument("--max-eval", type=int, default=None,
                   help="at most N sentences per validation, test and inference set")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128, help="BiLSTM units per direction")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared CPU torch's OpenMP threads wait "
                        "on each other at every LSTM step, and one is many times faster)")
    p.add_argument("--results-json", default=None, help="also write the printed figures here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    random.seed(0)
    started = time.perf_counter()

    labeled, production, source = load_data(args.max_train, args.max_eval)
    print(f"data: {source}: " + ", ".join(f"{k} {len(v)}" for k, v in {**labeled, **production}.items()))
    vocab = Vocab([r["tokens"] for r in labeled["training"]])
    model = BiLSTMTagger(len(vocab.words) + 2, len(vocab.chars) + 2, len(TAGS), hidden=args.hidden)
    monitored = MonitoredTagger(model)
    print(f"model: BiLSTM tagger, {sum(p.numel() for p in model.parameters()):,} parameters "
          f"({len(vocab.words):,} words, {len(vocab.chars)} characters)")

    dq.init(task_type="named_entity_recognition", project_name=args.project, run_name=args.run,
            root=args.root)
    dq.set_labels_for_run(TAGS)
    dq.set_tagging_schema("BIO")
    sets = {split: NerDataset(rows, vocab, split) for split, rows in labeled.items()}
    train_loader = make_loader(sets["training"], args.batch_size, shuffle=True)

    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        dq.set_split("training")
        dq.set_epoch(epoch)
        model.train()
        loss_sum = tokens = 0
        for ids, batch, tags in train_loader:
            batch["words"] = word_dropout(batch["words"], 0.05)
            logits = monitored(batch, ids)  # logs token embeddings and logits
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            n = int((tags != -100).sum())
            loss_sum, tokens = loss_sum + float(loss) * n, tokens + n
        dq.set_split("validation")
        dq.set_epoch(epoch)
        val = evaluate(monitored, make_loader(sets["validation"]))
        print(f"epoch {epoch}: loss {loss_sum / max(tokens, 1):.4f}, validation span F1 "
              f"{val['f1']:.3f} (P {val['precision']:.3f}, R {val['recall']:.3f}) "
              f"({time.perf_counter() - start:.1f} s)")
    train_seconds = time.perf_counter() - started

    dq.set_split("test")
    dq.set_epoch(args.epochs - 1)
    test = evaluate(monitored, make_loader(sets["test"]))
    print(f"test span F1 {test['f1']:.3f} (P {test['precision']:.3f}, R {test['recall']:.3f})")
    root = pathlib.Path(dq.current_run()[0])
    save(root / args.project / f"{args.run}.model.pt", model, vocab)

    # The production job: the same run, inference sets without labels.
    model.eval()
    for name, rows in production.items():
        ds = NerDataset(rows, vocab, "inference", inference_name=name)
        dq.set_split("inference", name)
        f = evaluate(monitored, make_loader(ds))  # logs the outputs; scores against the unlogged tags
        print(f"inference set {name}: {len(ds)} sentences logged (span F1 against its tags, "
              f"not logged: {f['f1']:.3f})")
    report = dq.finish()
    print(f"finished {report['samples']} samples in {report['seconds']:.1f} s "
          f"(training {train_seconds:.0f} s, all {time.perf_counter() - started:.0f} s)")

    figures = results(args.project, args.run, args.root)
    print_results(figures)
    if args.results_json:
        pathlib.Path(args.results_json).write_text(json.dumps(
            {"splits": figures, "validation_f1": val["f1"], "test_f1": test["f1"],
             "train_seconds": train_seconds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
