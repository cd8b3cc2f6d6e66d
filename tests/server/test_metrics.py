"""GET /metrics over HTTP (docs/team-server.md, "Metrics"): the real `sextant
serve`, its answer parsed with the Prometheus client's own text-format parser
(Debian's python3-prometheus-client), its figures checked against the run's
summary, and who may read it (the token unless --public-metrics)."""

import json

import pytest

from conftest import PROJECT, RUN, Served, api

parser = pytest.importorskip("prometheus_client.parser")


def scrape(served, **kw):
    status, headers, body = served.request("GET", "/metrics", **kw)
    assert status == 200, (status, body[:300])
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    families = {}
    for f in parser.text_string_to_metric_families(body.decode()):
        # The parser names a counter's family without its "_total".
        families[f.name + "_total" if f.type == "counter" else f.name] = f
    return families, body.decode()


def samples_of(family, **labels):
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_parse_and_count_requests_by_route_pattern(server):
    server.get("/api/runs")
    server.get(api() + "/samples", {"split": "training", "limit": 3})
    server.get(api() + "/samples", {"split": "training", "limit": 5})
    server.get("/api/no/such/endpoint", expect=404)
    families, text = scrape(server)

    requests = families["sextant_http_requests_total"]
    assert requests.type == "counter"
    routes = {s.labels["route"] for s in requests.samples}
    assert {"runs", "runs/*/*/samples", "unmatched"} <= routes, routes
    # Route patterns only: no project, run or raw path in the route label.
    assert not any(PROJECT in r or RUN in r or r.startswith("/") for r in routes), routes
    got = samples_of(requests, route="runs/*/*/samples", method="GET", code="200")
    assert len(got) == 1 and got[0].value >= 2
    assert samples_of(requests, route="unmatched", code="404")

    durations = families["sextant_http_request_duration_seconds"]
    assert durations.type == "histogram"
    series = samples_of(durations, route="runs/*/*/samples", method="GET")
    buckets = [s for s in series if s.name.endswith("_bucket")]
    count = [s.value for s in series if s.name.endswith("_count")][0]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == count >= 2
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
    assert "# HELP sextant_http_requests_total " in text
    version = server.get("/api/health")["version"]
    assert samples_of(families["sextant_build_info"], version=version)[0].value == 1
    assert families["sextant_http_open_connections"].samples[0].value >= 1


def test_metrics_give_each_inference_sets_figures(server):
    families, _ = scrape(server)
    summary = server.get(api() + "/summary")
    for name in ["shifted", "same"]:
        split = summary["splits"]["inference:" + name]
        labels = {"project": PROJECT, "run": RUN, "inference_set": name}

        def value(metric):
            got = samples_of(families[metric], **labels)
            assert len(got) == 1, (metric, name)
            return got[0].value

        assert value("sextant_inference_samples") == split["samples"]
        assert value("sextant_inference_drifted_ratio") == pytest.approx(split["drifted"]["fraction"])
        assert value("sextant_inference_on_boundary_ratio") == pytest.approx(
            split["on_the_boundary"]["fraction"])
        assert value("sextant_inference_mean_confidence") == pytest.approx(split["mean_confidence"])
        assert value("sextant_inference_domain_auc") == pytest.approx(split["domain_test"]["auc"])
        assert value("sextant_inference_shifted_ratio") == pytest.approx(
            split["domain_test"]["shifted_share"])
        assert value("sextant_inference_drift_detected") == float(split["drift_verdict"]["drifted"])
        assert families["sextant_inference_drifted_ratio"].type == "gauge"
    # Training and validation are not inference sets.
    sets = {s.labels["inference_set"]
            for s in samples_of(families["sextant_inference_samples"], project=PROJECT, run=RUN)}
    assert sets == {"shifted", "same"}


@pytest.mark.parametrize("public", [False, True])
def test_metrics_need_the_token_unless_public(store, public):
    args = ["--root", store["root"], "--port", 0, "--token", "s3cret"]
    if public:
        args.append("--public-metrics")
    s = Served(args, token="s3cret")
    try:
        status, headers, body = s.request("GET", "/metrics", auth=False)
        if public:
            assert status == 200
            assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        else:
            assert status == 401
            assert json.loads(body)["error"]["code"] == "unauthenticated"
            assert b"sextant_" not in body
            status, _, _ = s.request("GET", "/metrics", auth=False,
                                     headers={"Authorization": "Bearer wrong"})
            assert status == 401
        scrape(s)  # with the token
        # --public-metrics opens /metrics only, never the API.
        status, _, _ = s.request("GET", "/api/runs", auth=False)
        assert status == 401
        status, headers, _ = s.request("POST", "/metrics", body={})
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        # The refused requests are counted too, by their route pattern.
        families, _ = scrape(s)
        refused = samples_of(families["sextant_http_requests_total"], route="runs", code="401")
        assert refused and refused[0].value >= 1
    finally:
        s.stop()
