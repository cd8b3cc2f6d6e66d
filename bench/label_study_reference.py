"""Numpy reference implementations of the selection strategies, for
bench/label_study.py --impl python: independent of the engine, to check that the
engine's picks do as well, and to try variants of the default before they are
written in C++."""

from __future__ import annotations

import numpy as np

import sextant as dq


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def rank01(v: np.ndarray) -> np.ndarray:
    """Rank-normalised to (0, 1]: 1 for the largest."""
    order = np.argsort(np.argsort(v, kind="stable"), kind="stable")
    return (order + 1) / len(v)


def nearest_distance(queries: np.ndarray, base: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Cosine distance of each (unit) query to its nearest (unit) base row."""
    out = np.empty(len(queries), dtype=np.float32)
    for b in range(0, len(queries), chunk):
        sims = queries[b: b + chunk] @ base.T
        out[b: b + chunk] = 1.0 - sims.max(1)
    return out


class Reference:
    def __init__(self, root, project, run):
        kw = dict(project_name=project, run_name=run, root=str(root))
        self.pool = dq.get_dataframe("inference", "pool", include_embs=True, include_probs=True, **kw)
        train = dq.get_dataframe("training", include_embs=True, **kw)
        self.ids = self.pool["id"].astype(str).to_numpy()
        self.emb = unit(np.stack(self.pool["emb"].to_numpy()))
        self.train_emb = unit(np.stack(train["emb"].to_numpy()))
        self.margin = self.pool["margin"].to_numpy(dtype=float)
        self.probs = np.stack(self.pool["prob"].to_numpy())
        col = "shift_score" if "shift_score" in self.pool and self.pool["shift_score"].notna().any() \
            else "drift_score"
        self.shift = self.pool[col].to_numpy(dtype=float)
        self.train_dist = nearest_distance(self.emb, self.train_emb)

    def suggest(self, strategy: str, budget: int, seed: int) -> list[str]:
        n = len(self.ids)
        budget = min(budget, n)
        rng = np.random.default_rng(seed)
        if strategy == "random":
            pick = rng.choice(n, budget, replace=False)
        elif strategy == "uncertainty":
            pick = np.argsort(self.margin, kind="stable")[:budget]
        elif strategy == "drift":
            pick = np.argsort(-self.shift, kind="stable")[:budget]
        elif strategy == "diverse":
            pick = self.k_center(np.ones(n), budget)
        elif strategy == "default":
            u = rank01(-self.margin)
            s = rank01(self.shift)
            pick = self.k_center(0.7 * u + 0.3 * s, budget)
        elif strategy == "badge":
            pick = self.badge(budget, rng)
        elif strategy == "badge_shift":
            pick = self.badge(budget, rng, 0.5 + rank01(self.shift))
        elif strategy == "typiclust":
            pick = self.per_cluster(budget, seed, "typical")
        elif strategy == "cluster_margin":
            pick = self.per_cluster(budget, seed, "margin")
        elif strategy == "cluster_mix":
            pick = self.per_cluster(budget, seed, "mix")
        elif strategy == "ukpp":
            pick = self.kpp(self.emb * (1 - self.probs.max(1))[:, None], budget, rng)
        else:
            raise ValueError(strategy)
        return [str(i) for i in self.ids[np.asarray(pick)]]

    def k_center(self, weight: np.ndarray, budget: int) -> list[int]:
        """Greedy k-center with each candidate's distance to the covered set
        (training plus the picks) multiplied by its weight."""
        cover = self.train_dist.copy()
        picks = []
        for _ in range(budget):
            i = int(np.argmax(weight * cover))
            picks.append(i)
            cover = np.minimum(cover, 1.0 - self.emb @ self.emb[i])
            cover[i] = -1
        return picks

    def badge(self, budget: int, rng, factor=None) -> list[int]:
        """k-means++ seeding on gradient embeddings (Ash et al. 2020)."""
        pred = self.probs.argmax(1)
        scale = self.probs.copy()
        scale[np.arange(len(pred)), pred] -= 1.0
        g = (scale[:, :, None] * self.emb[:, None, :]).reshape(len(pred), -1)
        if factor is not None:
            g = g * factor[:, None]
        return self.kpp(g, budget, rng)

    def kpp(self, g, budget, rng):
        first = int(np.argmax((g * g).sum(1)))
        picks = [first]
        d2 = ((g - g[first]) ** 2).sum(1)
        for _ in range(budget - 1):
            p = d2 / d2.sum()
            i = int(rng.choice(len(p), p=p))
            picks.append(i)
            d2 = np.minimum(d2, ((g - g[i]) ** 2).sum(1))
        return picks

    def per_cluster(self, budget: int, seed: int, how: str) -> list[int]:
        """k-means of the pool into `budget` clusters, one pick per cluster:
        the most typical sample (TypiClust, Hacohen et al. 2022), the one of
        smallest margin (Cluster-Margin, Citovsky et al. 2021), or both."""
        from sklearn.cluster import KMeans
        assign = KMeans(budget, n_init=1, max_iter=30, random_state=seed).fit_predict(self.emb)
        picks = []
        u = rank01(-self.margin)
        for c in range(budget):
            members = np.flatnonzero(assign == c)
            if len(members) == 0:
                continue
            if how == "margin":
                picks.append(int(members[np.argmin(self.margin[members])]))
                continue
            sims = self.emb[members] @ self.emb[members].T
            k = min(20, len(members))
            typ = np.sort(sims, axis=1)[:, -k:].mean(1)
            score = typ if how == "typical" else rank01(typ) * u[members]
            picks.append(int(members[np.argmax(score)]))
        return picks
