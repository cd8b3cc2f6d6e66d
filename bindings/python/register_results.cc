// results.h: the query layer. Samples come back as columns (name -> list or
// array), the shape a pandas DataFrame is built from.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "query/result_json.h"
#include "register.h"
#include "sextant/results.h"

namespace py = pybind11;

namespace sextant::python {
namespace {

template <typename Row, typename T>
py::object OptionalList(const std::vector<Row>& rows, std::optional<T> Row::*field) {
  py::list out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& v = rows[i].*field;
    out[i] = v ? py::cast(*v) : py::none();
  }
  return out;
}

template <typename T, typename F>
py::array_t<T> Column(const std::vector<SampleRow>& rows, F get) {
  py::array_t<T> out(static_cast<py::ssize_t>(rows.size()));
  T* p = out.mutable_data();
  for (size_t i = 0; i < rows.size(); ++i) p[i] = get(rows[i]);
  return out;
}

py::array_t<float> Matrix(const std::vector<SampleRow>& rows,
                          std::vector<float> SampleRow::*field) {
  const size_t cols = rows.empty() ? 0 : (rows[0].*field).size();
  py::array_t<float> out({static_cast<py::ssize_t>(rows.size()), static_cast<py::ssize_t>(cols)});
  float* p = out.mutable_data();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& v = rows[i].*field;
    std::copy(v.begin(), v.end(), p + i * cols);
  }
  return out;
}

py::dict Columns(const std::vector<SampleRow>& rows, const SampleQuery& q) {
  py::dict d;
  py::list ids(rows.size()), texts(rows.size()), meta(rows.size()), preds(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ids[i] = rows[i].id;
    texts[i] = rows[i].text;
    meta[i] = rows[i].meta_json;
    preds[i] = rows[i].pred;
  }
  d["id"] = ids;
  d["split"] = q.split.ToString();
  d["row"] = Column<int64_t>(rows, [](const SampleRow& r) { return r.row; });
  d["text"] = texts;
  d["meta"] = meta;
  d["gold"] = OptionalList(rows, &SampleRow::gold);
  d["pred"] = preds;
  d["confidence"] = Column<double>(rows, [](const SampleRow& r) { return r.confidence; });
  d["margin"] = Column<double>(rows, [](const SampleRow& r) { return r.margin; });
  d["certainty_ratio"] = Column<double>(rows, [](const SampleRow& r) { return r.certainty_ratio; });
  d["entropy"] = Column<double>(rows, [](const SampleRow& r) { return r.entropy; });
  d["is_on_the_boundary"] =
      Column<bool>(rows, [](const SampleRow& r) { return r.is_on_the_boundary; });
  d["epoch"] = Column<int32_t>(rows, [](const SampleRow& r) { return r.epoch; });
  d["is_correct"] = OptionalList(rows, &SampleRow::is_correct);
  d["aum"] = OptionalList(rows, &SampleRow::aum);
  d["dep"] = OptionalList(rows, &SampleRow::dep);
  d["drift_distance"] = OptionalList(rows, &SampleRow::drift_distance);
  d["drift_score"] = OptionalList(rows, &SampleRow::drift_score);
  d["is_drifted"] = OptionalList(rows, &SampleRow::is_drifted);
  d["shift_score"] = OptionalList(rows, &SampleRow::shift_score);
  d["is_shifted"] = OptionalList(rows, &SampleRow::is_shifted);
  d["x"] = OptionalList(rows, &SampleRow::x);
  d["y"] = OptionalList(rows, &SampleRow::y);
  if (q.include_probs) d["probs"] = Matrix(rows, &SampleRow::probs);
  if (q.include_embeddings) d["embedding"] = Matrix(rows, &SampleRow::embedding);
  // The pair of NLI samples; the tokens and span marks of NER samples.
  const bool pairs = !rows.empty() && rows[0].premise.has_value();
  const bool spans = !rows.empty() && !rows[0].tokens.empty();
  if (pairs) {
    d["premise"] = OptionalList(rows, &SampleRow::premise);
    d["hypothesis"] = OptionalList(rows, &SampleRow::hypothesis);
  }
  if (spans) {
    auto marks = [](const std::vector<SpanMark>& list) {
      py::list out;
      for (const SpanMark& m : list) {
        py::dict d;
        d["start"] = m.start;
        d["end"] = m.end;
        d["label"] = m.label;
        d["error_type"] = m.error_type ? py::cast(*m.error_type) : py::none();
        d["span_row"] = m.span_row;
        out.append(d);
      }
      return out;
    };
    py::list tokens(rows.size()), gold(rows.size()), pred(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      py::list t;
      for (const CharRange& r : rows[i].tokens) t.append(py::make_tuple(r.start, r.end));
      tokens[i] = t;
      gold[i] = IsLabeled(q.split.split) ? py::object(marks(rows[i].gold_spans)) : py::none();
      pred[i] = marks(rows[i].pred_spans);
    }
    d["text_token_indices"] = tokens;
    d["gold_spans"] = gold;
    d["pred_spans"] = pred;
    // The sentence's fields (docs/ner-nli.md; None for runs finished before them).
    d["span_errors"] = OptionalList(rows, &SampleRow::span_errors);
    d["pred_spans_count"] = OptionalList(rows, &SampleRow::pred_spans_count);
    d["min_span_confidence"] = OptionalList(rows, &SampleRow::min_span_confidence);
  }
  return d;
}

// Span rows as columns (the fields of `sextant spans`).
py::dict SpanColumns(const std::vector<SpanRow>& rows) {
  py::dict d;
  py::list ids(rows.size()), texts(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ids[i] = rows[i].sample_id;
    texts[i] = rows[i].span_text;
  }
  auto column = [&](auto get) {
    using T = decltype(get(rows[0]));
    py::array_t<T> out(static_cast<py::ssize_t>(rows.size()));
    for (size_t i = 0; i < rows.size(); ++i) out.mutable_data()[i] = get(rows[i]);
    return out;
  };
  d["sample_id"] = ids;
  d["span_row"] = column([](const SpanRow& r) { return r.span_row; });
  d["sample_row"] = column([](const SpanRow& r) { return r.sample_row; });
  d["span_start"] = column([](const SpanRow& r) { return r.span_start; });
  d["span_end"] = column([](const SpanRow& r) { return r.span_end; });
  d["span_text"] = texts;
  d["gold"] = OptionalList(rows, &SpanRow::gold);
  d["pred"] = OptionalList(rows, &SpanRow::pred);
  d["error_type"] = OptionalList(rows, &SpanRow::error_type);
  d["confidence"] = column([](const SpanRow& r) { return r.confidence; });
  d["certainty_ratio"] = column([](const SpanRow& r) { return r.certainty_ratio; });
  d["is_on_the_boundary"] = column([](const SpanRow& r) { return r.is_on_the_boundary; });
  d["dep"] = OptionalList(rows, &SpanRow::dep);
  d["drift_distance"] = OptionalList(rows, &SpanRow::drift_distance);
  d["drift_score"] = OptionalList(rows, &SpanRow::drift_score);
  d["is_drifted"] = OptionalList(rows, &SpanRow::is_drifted);
  d["x"] = OptionalList(rows, &SpanRow::x);
  d["y"] = OptionalList(rows, &SpanRow::y);
  return d;
}

// A JSON value as the Python value json.loads would give.
py::object ToPython(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return py::none();
    case nlohmann::ordered_json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case nlohmann::ordered_json::value_t::number_float:
      return py::float_(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return py::str(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      py::list out;
      for (const auto& v : j) out.append(ToPython(v));
      return out;
    }
    case nlohmann::ordered_json::value_t::object: {
      py::dict out;
      for (auto it = j.begin(); it != j.end(); ++it) out[py::str(it.key())] = ToPython(*it);
      return out;
    }
    default:
      break;  // binary, discarded: never made by result_json
  }
  return py::none();
}

// The run's fields as the CLI and the HTTP API write them (query/result_json.h).
py::object InfoDict(const RunInfo& r) { return ToPython(RunInfoToJson(r)); }

}  // namespace

void RegisterResults(py::module_& m) {
  py::class_<SampleQuery>(m, "SampleQuery", "A filtered, sorted selection of one split (results.h)")
      .def(py::init([](const std::string& split, const std::string& inference_name) {
             SampleQuery q;
             q.split = SplitKeyOrThrow(split, inference_name);
             return q;
           }),
           py::arg("split"), py::arg("inference_name") = "")
      .def_readwrite("is_drifted", &SampleQuery::is_drifted)
      .def_readwrite("is_on_the_boundary", &SampleQuery::is_on_the_boundary)
      .def_readwrite("is_correct", &SampleQuery::is_correct)
      .def_readwrite("gold_class", &SampleQuery::gold_class)
      .def_readwrite("pred_class", &SampleQuery::pred_class)
      .def_readwrite("min_confidence", &SampleQuery::min_confidence)
      .def_readwrite("max_confidence", &SampleQuery::max_confidence)
      .def_readwrite("min_dep", &SampleQuery::min_dep)
      .def_readwrite("max_dep", &SampleQuery::max_dep)
      .def_readwrite("is_shifted", &SampleQuery::is_shifted)
      .def_readwrite("min_shift", &SampleQuery::min_shift)
      .def_readwrite("max_shift", &SampleQuery::max_shift)
      .def_readwrite("text_regex", &SampleQuery::text_regex)
      .def_readwrite("ids", &SampleQuery::ids)
      .def_readwrite("sort_by", &SampleQuery::sort_by)
      .def_readwrite("descending", &SampleQuery::descending)
      .def_readwrite("offset", &SampleQuery::offset)
      .def_readwrite("limit", &SampleQuery::limit)
      .def_readwrite("include_probs", &SampleQuery::include_probs)
      .def_readwrite("include_embeddings", &SampleQuery::include_embeddings);

  py::class_<SpanQuery>(m, "SpanQuery", "A filtered, sorted selection of one split's NER span rows")
      .def(py::init([](const std::string& split, const std::string& inference_name) {
             SpanQuery q;
             q.split = SplitKeyOrThrow(split, inference_name);
             return q;
           }),
           py::arg("split"), py::arg("inference_name") = "")
      .def_readwrite("label", &SpanQuery::label)
      .def_readwrite("gold", &SpanQuery::gold)
      .def_readwrite("pred", &SpanQuery::pred)
      .def_readwrite("error_type", &SpanQuery::error_type)
      .def_readwrite("is_drifted", &SpanQuery::is_drifted)
      .def_readwrite("is_on_the_boundary", &SpanQuery::is_on_the_boundary)
      .def_readwrite("min_confidence", &SpanQuery::min_confidence)
      .def_readwrite("max_confidence", &SpanQuery::max_confidence)
      .def_readwrite("text_regex", &SpanQuery::text_regex)
      .def_readwrite("sample_id", &SpanQuery::sample_id)
      .def_readwrite("span_row", &SpanQuery::span_row)
      .def_readwrite("sort_by", &SpanQuery::sort_by)
      .def_readwrite("descending", &SpanQuery::descending)
      .def_readwrite("offset", &SpanQuery::offset)
      .def_readwrite("limit", &SpanQuery::limit);

  py::class_<RunReader, std::shared_ptr<RunReader>>(
      m, "RunReader", "A read-only snapshot of a run's last finish (results.h); thread-safe")
      .def_static(
          "open",
          [](const std::filesystem::path& root, const std::string& project,
             const std::string& run) {
            Result<std::unique_ptr<RunReader>> r = [&] {
              py::gil_scoped_release release;
              return RunReader::Open(root, project, run);
            }();
            return std::shared_ptr<RunReader>(ValueOrThrow(std::move(r)));
          },
          py::arg("root"), py::arg("project"), py::arg("run"))
      .def_property_readonly("info", [](const RunReader& r) { return InfoDict(r.info()); })
      .def_property_readonly("generation", &RunReader::generation,
                             "The results generation this reader reads (its snapshot)")
      .def(
          "committed_generation",
          [](const RunReader& r) { return ValueOrThrow(r.CommittedGeneration()); },
          "The run's committed results generation now: reopen when it differs from generation")
      .def(
          "summary_json",
          [](const RunReader& r, const std::optional<std::string>& split,
             const std::string& inference_name) {
            std::optional<SplitKey> key;
            if (split) key = SplitKeyOrThrow(*split, inference_name);
            Result<std::string> text = [&] {
              py::gil_scoped_release release;
              return r.SummaryJson(key);
            }();
            return ValueOrThrow(std::move(text));
          },
          py::arg("split") = py::none(), py::arg("inference_name") = "")
      .def(
          "timeline_json",
          [](const RunReader& r) {
            Result<std::string> text = [&] {
              py::gil_scoped_release release;
              return r.TimelineJson();
            }();
            return ValueOrThrow(std::move(text));
          },
          "The run's timeline as stored at finish (docs/timeline.md)")
      .def(
          "samples",
          [](const RunReader& r, const SampleQuery& q) {
            Result<std::vector<SampleRow>> rows = [&] {
              py::gil_scoped_release release;
              return r.Samples(q);
            }();
            return Columns(ValueOrThrow(std::move(rows)), q);
          },
          py::arg("query"), "The samples as columns: name -> list (nullable fields) or numpy array")
      .def(
          "count",
          [](const RunReader& r, const SampleQuery& q) {
            Result<int64_t> n = [&] {
              py::gil_scoped_release release;
              return r.Count(q);
            }();
            return ValueOrThrow(std::move(n));
          },
          py::arg("query"))
      .def(
          "spans",
          [](const RunReader& r, const SpanQuery& q) {
            Result<std::vector<SpanRow>> rows = [&] {
              py::gil_scoped_release release;
              return r.Spans(q);
            }();
            return SpanColumns(ValueOrThrow(std::move(rows)));
          },
          py::arg("query"), "NER span rows as columns: name -> list or numpy array")
      .def(
          "similar_spans",
          [](const RunReader& r, const std::string& split, const std::string& inference_name,
             int64_t span_row, int32_t k, const std::vector<std::string>& search_in) {
            const SplitKey key = SplitKeyOrThrow(split, inference_name);
            std::vector<SplitKey> in;
            for (const std::string& s : search_in) in.push_back(ValueOrThrow(SplitKey::Parse(s)));
            Result<std::vector<SpanNeighbor>> found = [&] {
              py::gil_scoped_release release;
              return r.SimilarSpans(key, span_row, k, in);
            }();
            py::list out;
            for (const SpanNeighbor& n : ValueOrThrow(std::move(found))) {
              out.append(py::make_tuple(n.split.ToString(), n.span_row, n.distance));
            }
            return out;
          },
          py::arg("split"), py::arg("inference_name"), py::arg("span_row"), py::arg("k") = 10,
          py::arg("search_in") = std::vector<std::string>{},
          "The k span rows nearest to one: [(split, span_row, cosine distance)], nearest first");

  m.def(
      "list_runs",
      [](const std::filesystem::path& root) {
        Result<std::vector<RunInfo>> runs = [&] {
          py::gil_scoped_release release;
          return ListRuns(root);
        }();
        py::list out;
        for (const RunInfo& r : ValueOrThrow(std::move(runs))) out.append(InfoDict(r));
        return out;
      },
      py::arg("root"));
}

}  // namespace sextant::python
