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


# The generator mirrors GenerateSentiment in examples/demo/dataset.cc: the same
# word lists, templates and proportions (the random streams differ).

_POSITIVE = ("great", "wonderful", "excellent", "delightful", "brilliant", "superb", "enjoyable",
             "charming", "fantastic", "lovely", "terrific", "memorable", "outstanding", "pleasant")
_NEGATIVE = ("terrible", "awful", "boring", "dull", "bland", "disappointing", "mediocre",
             "horrible", "forgettable", "tedious", "lousy", "painful", "dreadful", "unpleasant")
_NEUTRAL = ("okay", "fine", "average", "ordinary", "acceptable", "passable")
_ADVERBS = ("really", "truly", "quite", "very", "absolutely", "rather", "pretty", "so")

_MOVIE_NOUNS = ("film", "movie", "plot", "script", "cast", "director", "soundtrack", "ending",
                "screenplay", "performance", "dialogue", "story", "lead actor", "sequel",
                "pacing", "villain", "editing", "score", "premise", "cinematography")
_GENRES = ("thriller", "comedy", "drama", "documentary", "western", "horror film", "musical",
           "biopic", "animated feature", "romance")
_MOVIE_CONTEXTS = ("from start to finish", "in the second act", "despite all the hype",
                   "compared to the original", "on the big screen", "in every single scene",
                   "for most of its running time", "right up to the final credits")

_RESTAURANT_NOUNS = ("service", "atmosphere", "decor", "music", "patio", "seating", "menu",
                     "portion", "price", "wine list")
_STAFF = ("waiter", "waitress", "server", "hostess", "bartender", "manager", "chef")
_DISHES = ("pasta", "pizza", "burger", "sushi roll", "ramen", "steak", "fish tacos", "pad thai",
           "caesar salad", "fried chicken", "pho", "lasagna", "burrito", "dumplings")
_DESSERTS = ("cheesecake", "tiramisu", "creme brulee", "gelato", "apple pie")
_OCCASIONS = ("for my sister 's birthday", "on a busy friday night", "after a long day at work",
              "for a quick lunch with coworkers", "for brunch on sunday",
              "before a concert downtown")
_CLOSINGS = ("parking was easy to find", "it came to about twenty dollars each",
             "the place is right next to the mall", "we had a reservation for seven",
             "they take cards and cash", "the kitchen closes at ten")

# Sentiment words only one domain uses ("gripping" films, "greasy" food): a model
# trained on one domain has never seen the other's, which lowers its confidence
# there, as on real out-of-domain reviews.
_DOMAIN_ADJECTIVES = {  # domain -> (positive, negative)
    "movies": (("gripping", "hilarious", "moving", "riveting", "touching", "witty", "suspenseful",
                "heartfelt"),
               ("cliched", "overlong", "wooden", "clumsy", "pretentious", "plodding", "incoherent",
                "overacted")),
    "restaurants": (("delicious", "tasty", "fresh", "flavorful", "attentive", "friendly", "cozy",
                     "generous"),
                    ("greasy", "stale", "rude", "overpriced", "soggy", "undercooked", "cold",
                     "slow")),
}
DOMAINS = tuple(_DOMAIN_ADJECTIVES)

_MIXED_SHARE = 0.06    # "... but ...": the second clause carries the label
_NEUTRAL_SHARE = 0.04  # no sentiment word: the label is a coin flip
_OWN_ADJECTIVE = 0.4   # an adjective from the domain's own list instead of the shared one
_NEGATED = 0.1         # "not great" (negative), "far from dull" (positive)
_ADVERB = 0.6          # "really great"


def _adjective(rng: random.Random, domain: str, positive: bool) -> str:
    """An adjective of the given polarity: from the shared list, or (40%) the domain's own."""
    if rng.random() < _OWN_ADJECTIVE:
        own_positive, own_negative = _DOMAIN_ADJECTIVES[domain]
        return rng.choice(own_positive if positive else own_negative)
    return rng.choice(_POSITIVE if positive else _NEGATIVE)


def _sentiment(rng: random.Random, domain: str, positive: bool) -> str:
    """"[adverb] adjective", or sometimes a negated shared adjective of the other polarity."""
    if rng.random() < _NEGATED:
        return "far from " + rng.choice(_NEGATIVE) if positive else "not " + rng.choice(_POSITIVE)
    adverb = rng.choice(_ADVERBS) + " " if rng.random() < _ADVERB else ""
    return adverb + _adjective(rng, domain, positive)


def _movie_sentence(rng: random.Random, positive: bool) -> str:
    """Short phrases, like SST's (about 3 to 14 words)."""
    def sentiment() -> str:
        return _sentiment(rng, "movies", positive)

    template = rng.randrange(5)
    if template == 0:
        return f"a {sentiment()} {rng.choice(_GENRES)}"
    if template == 1:
        return f"the {rng.choice(_MOVIE_NOUNS)} is {sentiment()}"
    if template == 2:
        first = f"{sentiment()} {rng.choice(_MOVIE_NOUNS)}"
        return f"{first} and {sentiment()} {rng.choice(_MOVIE_NOUNS)}"
    if template == 3:
        noun, genre = rng.choice(_MOVIE_NOUNS), rng.choice(_GENRES)
        return f"the {noun} of this {genre} was {sentiment()} {rng.choice(_MOVIE_CONTEXTS)}"
    context = rng.choice(_MOVIE_CONTEXTS)
    return f"{context} , a {sentiment()} {rng.choice(_GENRES)}"


def _restaurant_sentence(rng: random.Random, positive: bool) -> str:
    """Longer reviews (about 18 to 32 words), most words about the visit, not the sentiment."""
    def sentiment() -> str:
        return _sentiment(rng, "restaurants", positive)

    def pick(items: Sequence[str]) -> str:
        return rng.choice(items)

    template = rng.randrange(3)
    if template == 0:
        return (f"we came here {pick(_OCCASIONS)} and ordered the {pick(_DISHES)} with a side of "
                f"{pick(_DISHES)} . the {pick(_RESTAURANT_NOUNS)} was {sentiment()} and the "
                f"{pick(_STAFF)} was {sentiment()} . {pick(_CLOSINGS)} .")
    if template == 1:
        return (f"{pick(_OCCASIONS)} my friends and i tried the {pick(_DISHES)} , the "
                f"{pick(_DISHES)} and the {pick(_DESSERTS)} . everything was {sentiment()} , and "
                f"the {pick(_RESTAURANT_NOUNS)} felt {sentiment()} . {pick(_CLOSINGS)} .")
    return (f"the {pick(_DISHES)} here is {sentiment()} . the {pick(_STAFF)} brought our "
            f"{pick(_DESSERTS)} quickly and the {pick(_RESTAURANT_NOUNS)} was {sentiment()} . "
            f"{pick(_CLOSINGS)} .")


def _mixed_sentence(rng: random.Random, domain: str, positive: bool) -> str:
    """"first clause but second clause": the second clause carries the label."""
    if domain == "movies":
        first = f"the {rng.choice(_MOVIE_NOUNS)} was {_adjective(rng, domain, not positive)}"
        return f"{first} but the {rng.choice(_MOVIE_NOUNS)} was {_adjective(rng, domain, positive)}"
    visit = (f"we ordered the {rng.choice(_DISHES)} and the {rng.choice(_DISHES)} "
             f"{rng.choice(_OCCASIONS)}")
    first = f"the {rng.choice(_RESTAURANT_NOUNS)} was {_adjective(rng, domain, not positive)}"
    second = f"the {rng.choice(_STAFF)} was {_adjective(rng, domain, positive)}"
    return f"{visit} . {first} but {second} . {rng.choice(_CLOSINGS)} ."


def _neutral_sentence(rng: random.Random, domain: str) -> str:
    if domain == "movies":
        noun, genre = rng.choice(_MOVIE_NOUNS), rng.choice(_GENRES)
        return f"the {noun} of this {genre} was {rng.choice(_NEUTRAL)}"
    visit = f"we ordered the {rng.choice(_DISHES)} {rng.choice(_OCCASIONS)}"
    return (f"{visit} . the {rng.choice(_RESTAURANT_NOUNS)} was {rng.choice(_NEUTRAL)} . "
            f"{rng.choice(_CLOSINGS)} .")


def generate(n: int, domain: str, seed: int, prefix: str) -> pd.DataFrame:
    """`n` synthetic reviews (columns id, text, label; 0 = negative, 1 = positive),
    as GenerateSentiment in examples/demo/dataset.cc makes them: short movie
    phrases (SST-like), or longer restaurant reviews whose sentiment words a
    movie model has not seen (shifted, as SST-2 -> Yelp). 6% are mixed ("... but
    ..."), 4% neutral with a random label; ids are `prefix` + a 6-digit index."""
    if domain not in _DOMAIN_ADJECTIVES:
        raise ValueError(f"domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    # The domain goes into the seed so the two domains never share a stream.
    rng = random.Random(f"{domain}:{seed}")
    rows = []
    for i in range(n):
        positive = rng.random() < 0.5
        kind = rng.random()
        if kind < _MIXED_SHARE:
            text = _mixed_sentence(rng, domain, positive)
        elif kind < _MIXED_SHARE + _NEUTRAL_SHARE:
            text = _neutral_sentence(rng, domain)
        elif domain == "movies":
            text = _movie_sentence(rng, positive)
        else:
            text = _restaurant_sentence(rng, positive)
        rows.append({"id": f"{prefix}{i:06d}", "text": text, "label": int(positive)})
    return pd.DataFrame(rows, columns=["id", "text", "label"])


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
