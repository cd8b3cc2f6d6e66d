"""Cold opens (docs/architecture.md, "Sample tables"): a freshly started server
answers a split's first requests from the store while its table loads, with
the same answers as from the table; here over a NER run, whose span marks the
store reads in one range query per batch."""

import subprocess

import numpy as np
import pytest

from conftest import Served, api, sextant_binary
from test_api_ner_nli import TAGS, ner_split, write

NER = api("cold", "ner")


@pytest.fixture(scope="module")
def ner_run(store):
    """A NER run cold/ner (the sentences of test_api_ner_nli.py): training, validation."""
    base = store["base"] / "cold"
    base.mkdir(exist_ok=True)
    rng = np.random.default_rng(3)
    for split, n, finish in [("training", 120, False), ("validation", 50, True)]:
        rows, embs, logits = ner_split(rng, n, 0.0, True)
        data = write(base, f"ner_{split}", rows, embs, logits)
        subprocess.run([str(sextant_binary()), "import", "--root", str(store["root"]),
                        "--project", "cold", "--run", "ner", "--task", "ner",
                        "--tagging-schema", "BIO", "--labels", TAGS, "--split", split,
                        "--data", str(data), "--embeddings", str(base / f"ner_{split}_emb.npy"),
                        "--logits", str(base / f"ner_{split}_logits.npy"), "--k", "3",
                        *([] if finish else ["--no-finish"])], check=True, capture_output=True)


def test_a_fresh_servers_first_ner_answers_are_the_tables(store, ner_run, server):
    page = {"split": "training", "limit": 25, "offset": 10}
    warm_page = server.get(NER + "/samples", page)
    warm_sample = server.get(NER + "/samples/training/s7")
    warm_similar = server.get(NER + "/similar", {"split": "training", "id": "s3", "k": 5})
    cold = Served(["--root", store["root"], "--port", 0, "--preload-samples", 0])
    try:
        # Nothing is loaded yet: each first answer comes from the store.
        assert cold.get(NER + "/samples", page) == warm_page
        assert cold.get(NER + "/samples/validation/s2") == server.get(NER + "/samples/validation/s2")
        assert cold.get(NER + "/samples/training/s7") == warm_sample
        got = cold.get(NER + "/similar", {"split": "training", "id": "s3", "k": 5})
        assert got["neighbors"] == warm_similar["neighbors"]
        assert all(s["pred_spans"] is not None for s in warm_page["samples"])
    finally:
        cold.stop()
