"""GET .../suggest through the real `sextant serve`: the same picks as
`sextant suggest`, 400s naming the parameter, and the console's flow of filling a
selection with the answer (docs/labeling.md)."""

import json

import pytest

from conftest import N_PROD, PROJECT, RUN, api


def cli_suggest(store, *args):
    return store["cli"]("suggest", "--project", PROJECT, "--run", RUN, *args).json()


@pytest.mark.parametrize("strategy", ["default", "random", "uncertainty", "drift", "diverse"])
def test_same_picks_as_the_cli(server, store, strategy):
    j = server.get(api() + "/suggest", {"split": "inference", "inference_name": "shifted",
                                         "budget": 12, "strategy": strategy, "seed": 4})
    assert j["strategy"] == strategy and j["pool"] == N_PROD
    cli = cli_suggest(store, "--inference-name", "shifted", "--budget", "12", "--strategy",
                      strategy, "--seed", "4", "--format", "json")
    assert [s["id"] for s in j["suggestions"]] == [s["id"] for s in cli["suggestions"]]
    assert len(j["suggestions"]) == 12
    for s in j["suggestions"]:
        assert s["split"] == "inference:shifted"
        assert s["reasons"] and all(isinstance(r, str) for r in s["reasons"])
        assert {"text", "pred", "confidence", "margin", "drift_score", "shift_score"} <= set(s)


def test_uncertainty_is_the_smallest_margins(server, store):
    j = server.get(api() + "/suggest", {"split": "inference:same", "budget": 10,
                                         "strategy": "uncertainty"})
    rows = store["cli"].samples(PROJECT, RUN, "inference", inference_name="same")
    lowest = sorted(r["margin"] for r in rows)[:10]
    assert [s["margin"] for s in j["suggestions"]] == pytest.approx(lowest)


@pytest.mark.parametrize("params, field", [
    ({"inference_name": "shifted"}, "split"),
    ({"split": "inference"}, "inference_name"),
    ({"split": "inference:shifted", "budget": "lots"}, "budget"),
    ({"split": "inference:shifted", "strategy": "entropy"}, "strategy"),
    ({"split": "inference:shifted", "per_class": "yes please"}, "per_class"),
    ({"split": "inference:shifted", "class": "meh"}, "class"),
])
def test_bad_parameters_are_400s_naming_them(server, params, field):
    status, _, body = server.request("GET", api() + "/suggest", params)
    assert status == 400, body[:300]
    assert json.loads(body)["error"]["message"].startswith(field + ":")


def test_the_answer_fills_a_selection(server):
    j = server.get(api() + "/suggest", {"split": "inference:shifted", "budget": 8})
    server.post(api() + "/selections", {"name": "suggested"}, expect=201)
    added = server.post(api() + "/selections/suggested/add",
                        {"items": [{"split": s["split"], "id": s["id"]} for s in j["suggestions"]]})
    assert added["count"] == 8
    got = server.get(api() + "/selections/suggested")
    assert [i["id"] for i in got["items"]] == [s["id"] for s in j["suggestions"]]
    # Leave the shared store as found (other tests list its selections).
    status, _, _ = server.request("DELETE", api() + "/selections/suggested")
    assert status == 200
