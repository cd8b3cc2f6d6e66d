"""Cold opens (docs/architecture.md, "Sample tables"): a freshly started server
answers a split's first requests from the store while its table loads, with
the same answers as from the table; here over a NER run, whose span marks the
store reads in one range query per batch."""

from conftest import Served, api
from test_api_ner_nli import task_runs  # noqa: F401 (the module's fixture: the NER and NLI runs)

NER = api("tasks", "ner")


def test_a_fresh_servers_first_ner_answers_are_the_tables(store, task_runs, server):  # noqa: F811
    page = {"split": "training", "limit": 25, "sort": "confidence", "order": "desc",
            "min_confidence": 0.2}
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
