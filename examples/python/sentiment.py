"""The pieces of the example workflow: data, a small PyTorch text classifier, a
Dataset that logs itself to Sextant, and a wrapper whose forward pass logs the
model's outputs.

Any ``torch.nn.Module`` whose ``forward(input_ids, attention_mask)`` returns
``(embedding, logits)`` works with ``MonitoredModel``: to use DistilBERT, return
``(out.last_hidden_state[:, 0], classifier(...))`` from a small wrapper and pass
its tokenizer's ids; nothing else changes.

No pretrained weights can be downloaded here, so ``BagOfWordsClassifier`` is
trained from scratch: word and word-bigram embeddings averaged (an
EmbeddingBag), one hidden layer (the embedding Sextant monitors), a linear
classifier.
"""

from __future__ import annotations

import collections
import os
import pathlib
import random
import re
import zlib
from typing import Any, Iterable, Optional, Sequence

import pandas as pd
import torch
from torch import nn

import sextant as dq

LABELS = ["negative", "positive"]
REPO = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- data

def data_dir() -> pathlib.Path:
    """$SEXTANT_DATA, else ../shared/data next to the repository."""
    return pathlib.Path(os.environ.get("SEXTANT_DATA") or REPO.parent / "shared" / "data")


def has_sst2(data: Optional[pathlib.Path] = None) -> bool:
    return ((data or data_dir()) / "sst2" / "train.csv").is_file()


def read_csv(path: pathlib.Path, max_rows: Optional[int] = None) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"id": str, "text": str}, keep_default_na=False)
    if max_rows:
        df = df.sample(n=min(max_rows, len(df)), random_state=0).sort_index()
    return df.reset_index(drop=True)


_POS = ["great", "wonderful", "excellent", "delightful", "brilliant", "superb", "enjoyable",
        "charming", "fantastic", "lovely", "terrific", "memorable"]
_NEG = ["terrible", "awful", "boring", "dull", "bland", "disappointing", "mediocre", "horrible",
        "forgettable", "tedious", "lousy", "dreadful"]
_ADV = ["really", "truly", "quite", "very", "absolutely", "rather", "pretty", "so"]
_MOVIE = {"nouns": ["film", "movie", "plot", "script", "cast", "director", "soundtrack", "ending",
                    "performance", "dialogue", "story", "pacing", "villain", "score"],
          "pos": ["gripping", "hilarious", "moving", "riveting", "witty", "heartfelt"],
          "neg": ["cliched", "overlong", "wooden", "clumsy", "pretentious", "plodding"]}
_FOOD = {"nouns": ["service", "atmosphere", "pasta", "pizza", "burger", "sushi", "steak",
                   "waiter", "menu", "dessert", "patio", "ramen", "portion", "price"],
         "pos": ["delicious", "tasty", "fresh", "flavorful", "attentive", "friendly"],
         "neg": ["greasy", "stale", "rude", "overpriced", "soggy", "undercooked"]}


def generate(n: int, domain: str, seed: int, prefix: str) -> pd.DataFrame:
    """`n` synthetic reviews, 0 = negative, 1 = positive: short movie phrases
    (SST-like), or longer restaurant reviews whose vocabulary a movie model has
    not seen (shifted, as SST-2 -> Yelp). About 5% get a random label."""
    rng = random.Random(seed)
    words = _MOVIE if domain == "movies" else _FOOD

    def adjective(positive: bool) -> str:
        own = words["pos"] if positive else words["neg"]
        shared = _POS if positive else _NEG
        adj = rng.choice(own if rng.random() < 0.4 else shared)
        return (rng.choice(_ADV) + " " + adj) if rng.random() < 0.5 else adj

    rows = []
    for i in range(n):
        label = rng.random() < 0.5
        if domain == "movies":
            text = f"the {rng.choice(words['nouns'])} is {adjective(label)}"
            if rng.random() < 0.5:
                text = f"{adjective(label)} {rng.choice(words['nouns'])} and {text}"
        else:
            parts = [f"we went there {rng.choice(['on friday', 'for lunch', 'for a birthday'])}",
                     f"the {rng.choice(words['nouns'])} was {adjective(label)}",
                     f"and the {rng.choice(words['nouns'])} was {adjective(label)}",
                     f"we ordered the {rng.choice(words['nouns'])} and the {rng.choice(words['nouns'])}",
                     rng.choice(["parking was easy", "it was busy", "we had a reservation"])]
            text = " , ".join(parts) + " ."
        if rng.random() < 0.05:
            label = rng.random() < 0.5
        rows.append({"id": f"{prefix}{i:06d}", "text": text, "label": int(label)})
    return pd.DataFrame(rows)


def training_data(max_train: Optional[int] = None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(training, validation, description): SST-2 when present, else generated movie reviews."""
    data = data_dir()
    if has_sst2(data):
        return (read_csv(data / "sst2" / "train.csv", max_train),
                read_csv(data / "sst2" / "validation.csv"), f"SST-2 from {data / 'sst2'}")
    n = min(max_train or 4000, 4000)
    return (generate(n, "movies", 1, "movies-train-"), generate(800, "movies", 2, "movies-val-"),
            f"generated movie reviews ({data / 'sst2'} not found)")


def production_sets(names: Sequence[str] = ("yelp", "amazon"),
                    max_rows: Optional[int] = None) -> dict[str, pd.DataFrame]:
    """Shifted-domain production data by name: Yelp and Amazon reviews from the
    shared data, else generated restaurant reviews (name "restaurants")."""
    data = data_dir()
    paths = {"yelp": data / "sentiment_textfooler_samples" / "yelp.csv",
             "amazon": data / "amazon_multidomain_sentiment" / "reviews.csv",
             "uci": data / "sentiment_labelled_sentences_uci" / "production.csv",
             "mr": data / "sentiment_textfooler_samples" / "mr.csv",
             "imdb": data / "sentiment_textfooler_samples" / "imdb.csv"}
    if not has_sst2(data):
        return {"restaurants": generate(max_rows or 800, "restaurants", 3, "restaurants-")}
    return {name: read_csv(paths[name], max_rows) for name in names}


# ----------------------------------------------------------------- tokenizer

_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")


class Tokenizer:
    """Lower-cased words from a training vocabulary plus hashed word bigrams."""

    def __init__(self, texts: Iterable[str] = (), max_words: int = 30000, bigram_buckets: int = 1 << 16,
                 max_tokens: int = 256):
        counts = collections.Counter(w for t in texts for w in _TOKEN.findall(t.lower()))
        self.words = [w for w, c in counts.most_common(max_words) if c >= 2]
        self.index = {w: i + 2 for i, w in enumerate(self.words)}  # 0 = padding, 1 = unknown
        self.bigram_buckets = bigram_buckets
        self.max_tokens = max_tokens

    @property
    def vocab_size(self) -> int:
        return len(self.words) + 2 + self.bigram_buckets

    def encode(self, text: str) -> list[int]:
        words = _TOKEN.findall(text.lower())[: self.max_tokens]
        ids = [self.index.get(w, 1) for w in words]
        base = len(self.words) + 2
        ids += [base + zlib.crc32(f"{a} {b}".encode()) % self.bigram_buckets
                for a, b in zip(words, words[1:])]
        return ids or [1]

    def state_dict(self) -> dict[str, Any]:
        return {"words": self.words, "bigram_buckets": self.bigram_buckets,
                "max_tokens": self.max_tokens}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Tokenizer":
        t = cls(bigram_buckets=state["bigram_buckets"], max_tokens=state["max_tokens"])
        t.words = list(state["words"])
        t.index = {w: i + 2 for i, w in enumerate(t.words)}
        return t


# --------------------------------------------------------------------- model

class BagOfWordsClassifier(nn.Module):
    """Mean of token embeddings (an EmbeddingBag over the mask), a hidden layer
    (the embedding), a linear classifier. forward(input_ids, attention_mask)
    returns (embedding, logits), as a DistilBERT wrapper would."""

    def __init__(self, vocab_size: int, num_labels: int, token_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "num_labels": num_labels, "token_dim": token_dim,
                       "hidden": hidden}
        # sparse: a step updates only the rows of the batch's tokens (see Optimizer)
        self.tokens = nn.EmbeddingBag(vocab_size, token_dim, mode="sum", sparse=True)
        # fastText's initialisation: tokens never seen in training stay near zero
        # instead of pulling the mean to a random point.
        nn.init.uniform_(self.tokens.weight, -1.0 / token_dim, 1.0 / token_dim)
        self.hidden = nn.Sequential(nn.Linear(token_dim, hidden), nn.ReLU(), nn.Dropout(0.1))
        self.classifier = nn.Linear(hidden, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        # The mean over the tokens the mask keeps: a weighted sum with weights 1/length.
        weights = attention_mask.to(torch.float32)
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
        pooled = self.tokens(input_ids, per_sample_weights=weights)
        emb = self.hidden(pooled)
        return emb, self.classifier(emb)


class Optimizer:
    """Adam for any model: SparseAdam for the sparse embedding tables (a dense
    Adam step would touch every row of a large vocabulary), Adam for the rest."""

    def __init__(self, model: nn.Module, lr: float = 2e-3):
        sparse = [m.weight for m in model.modules()
                  if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse]
        ids = {id(p) for p in sparse}
        dense = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
        self.optimizers = [torch.optim.Adam(dense, lr=lr)]
        if sparse:
            self.optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))

    def zero_grad(self) -> None:
        for o in self.optimizers:
            o.zero_grad()

    def step(self) -> None:
        for o in self.optimizers:
            o.step()


class MonitoredModel(nn.Module):
    """Wraps any model returning (embedding, logits): its forward pass logs both
    to Sextant for the sample ids of the batch, then returns the logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, ids: Sequence[str]):
        emb, logits = self.model(input_ids, attention_mask)
        dq.log_model_outputs(embs=emb, logits=logits, ids=ids)
        return logits


# ------------------------------------------------------------------- dataset

class SentimentDataset(torch.utils.data.Dataset):
    """Rows of a DataFrame (id, text[, label]); logs itself to Sextant when built."""

    def __init__(self, df: pd.DataFrame, tokenizer: Tokenizer, split: str,
                 inference_name: Optional[str] = None):
        self.ids = df["id"].astype(str).tolist()
        self.inputs = [tokenizer.encode(t) for t in df["text"].tolist()]
        labeled = split != "inference" and "label" in df.columns
        self.labels = df["label"].astype(int).tolist() if labeled else [-1] * len(df)
        dq.log_dataset(df, text="text", id="id", label="label", split=split,
                       inference_name=inference_name)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return self.ids[i], self.inputs[i], self.labels[i]


def collate(batch):
    ids = [b[0] for b in batch]
    width = max(len(b[1]) for b in batch)
    x = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    for i, (_, tokens, _) in enumerate(batch):
        x[i, : len(tokens)] = torch.tensor(tokens)
        mask[i, : len(tokens)] = 1
    return ids, x, mask, torch.tensor([b[2] for b in batch])


def save(path: pathlib.Path, model: BagOfWordsClassifier, tokenizer: Tokenizer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state": model.state_dict(),
                "tokenizer": tokenizer.state_dict(), "labels": LABELS}, path)


def load(path: pathlib.Path) -> tuple[BagOfWordsClassifier, Tokenizer, list[str]]:
    saved = torch.load(path)
    model = BagOfWordsClassifier(**saved["config"])
    model.load_state_dict(saved["state"])
    return model, Tokenizer.from_state_dict(saved["tokenizer"]), list(saved["labels"])
