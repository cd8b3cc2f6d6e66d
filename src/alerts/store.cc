#include "alerts/store.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace sextant::alerts {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rules(
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, json TEXT NOT NULL,
  created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks(
  id TEXT PRIMARY KEY, url TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL,
  secret TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS states(
  rule_id TEXT NOT NULL, run TEXT NOT NULL, set_name TEXT NOT NULL, class TEXT NOT NULL,
  state TEXT NOT NULL, value REAL, threshold REAL, band_low REAL, band_high REAL,
  set_value REAL, reference_value REAL, detail TEXT NOT NULL, set_time REAL,
  since REAL NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY(rule_id, run, set_name, class));
CREATE TABLE IF NOT EXISTS history(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, rule_id TEXT NOT NULL, run TEXT NOT NULL,
  set_name TEXT NOT NULL, class TEXT NOT NULL, time REAL NOT NULL, old TEXT NOT NULL,
  new TEXT NOT NULL, value REAL, threshold REAL, band_low REAL, band_high REAL);
CREATE TABLE IF NOT EXISTS deliveries(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, webhook_id TEXT NOT NULL,
  url TEXT NOT NULL, event TEXT NOT NULL, rule_id TEXT NOT NULL, run TEXT NOT NULL,
  set_name TEXT NOT NULL, class TEXT NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '',
  last_code INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL,
  next_attempt REAL NOT NULL, delivered REAL, lease_until REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(status, next_attempt);
)sql";

ordered_json Opt(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(); }

std::string Slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
    if (out.size() >= 48) break;
  }
  return out.empty() ? "rule" : out;
}

const char* kStateColumns =
    "rule_id, run, set_name, class, state, value, threshold, band_low, band_high, set_value, "
    "reference_value, detail, set_time, since, updated";

AlertState ReadState(const store::Statement& q) {
  AlertState s;
  s.key = {q.Text(0), q.Text(1), q.Text(2), q.Text(3)};
  s.state = q.Text(4);
  s.value = q.OptDouble(5);
  s.threshold = q.OptDouble(6);
  s.band_low = q.OptDouble(7);
  s.band_high = q.OptDouble(8);
  s.set_value = q.OptDouble(9);
  s.reference_value = q.OptDouble(10);
  s.detail = q.Text(11);
  s.set_time = q.OptDouble(12);
  s.since = q.Double(13);
  s.updated = q.Double(14);
  return s;
}

const char* kDeliveryColumns =
    "id, webhook_id, url, event, payload, attempts, status, last_error, last_code, created, "
    "updated, next_attempt, delivered, rule_id, run, set_name, class";

Delivery ReadDelivery(const store::Statement& q) {
  Delivery d;
  d.id = q.Text(0);
  d.webhook_id = q.Text(1);
  d.url = q.Text(2);
  d.event = q.Text(3);
  d.payload = q.Text(4);
  d.attempts = static_cast<int>(q.Int(5));
  d.status = q.Text(6);
  d.last_error = q.Text(7);
  d.last_code = static_cast<int>(q.Int(8));
  d.created = q.Double(9);
  d.updated = q.Double(10);
  d.next_attempt = q.Double(11);
  d.delivered = q.OptDouble(12);
  d.key = {q.Text(13), q.Text(14), q.Text(15), q.Text(16)};
  return d;
}

Status InsertDelivery(store::Database& db, const Delivery& d) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db.Prepare("INSERT INTO deliveries(id, webhook_id, url, event, rule_id, run, set_name, "
                 "class, payload, status, created, updated, next_attempt) "
                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"));
  q.Bind(1, d.id).Bind(2, d.webhook_id).Bind(3, d.url).Bind(4, d.event);
  q.Bind(5, d.key.rule_id).Bind(6, d.key.run).Bind(7, d.key.set).Bind(8, d.key.cls);
  q.Bind(9, d.payload).Bind(10, d.created).Bind(11, d.created).Bind(12, d.created);
  return q.Run();
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::string NewId() {
  static thread_local std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string IsoTime(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(std::floor(unix_seconds));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ordered_json WebhookToJson(const Webhook& w) {
  return {{"id", w.id},
          {"url", w.url},
          {"name", w.name},
          {"enabled", w.enabled},
          {"signed", !w.secret.empty()},
          {"created", w.created}};
}

Result<Webhook> WebhookFromJson(const json& j) {
  if (!j.is_object()) return Status::Invalid("webhook: expected a JSON object");
  Webhook w;
  for (const auto& [key, v] : j.items()) {
    if (key == "url" || key == "name" || key == "secret" || key == "id") {
      if (!v.is_string()) return Status::Invalid("webhook." + key + ": expected a string");
    } else if (key == "enabled") {
      if (!v.is_boolean()) return Status::Invalid("webhook.enabled: expected true or false");
    } else {
      return Status::Invalid("webhook." + key +
                             ": unknown field (expected url, name, secret, enabled)");
    }
  }
  w.url = j.value("url", "");
  w.name = j.value("name", "");
  w.secret = j.value("secret", "");
  w.id = j.value("id", "");
  w.enabled = j.value("enabled", true);
  if (w.url.rfind("http://", 0) != 0 && w.url.rfind("https://", 0) != 0) {
    return Status::Invalid("webhook.url: expected an http:// or https:// URL, got '" + w.url + "'");
  }
  if (w.url.size() > 2000) return Status::Invalid("webhook.url: at most 2000 characters");
  return w;
}

ordered_json HistoryToJson(const HistoryEntry& h) {
  return {{"seq", h.seq},
          {"rule_id", h.key.rule_id},
          {"run", h.key.run},
          {"set", h.key.set},
          {"class", h.key.cls.empty() ? ordered_json() : ordered_json(h.key.cls)},
          {"time", h.time},
          {"time_iso", IsoTime(h.time)},
          {"old", h.old_state},
          {"new", h.new_state},
          {"value", Opt(h.value)},
          {"threshold", Opt(h.threshold)},
          {"band", h.band_low || h.band_high
                       ? ordered_json{{"low", Opt(h.band_low)}, {"high", Opt(h.band_high)}}
                       : ordered_json()}};
}

ordered_json DeliveryToJson(const Delivery& d, bool with_payload) {
  ordered_json j = {
      {"id", d.id},
      {"webhook_id", d.webhook_id},
      {"url", d.url},
      {"event", d.event},
      {"rule_id", d.key.rule_id},
      {"run", d.key.run},
      {"set", d.key.set},
      {"class", d.key.cls.empty() ? ordered_json() : ordered_json(d.key.cls)},
      {"status", d.status},
      {"attempts", d.attempts},
      {"last_code", d.last_code == 0 ? ordered_json() : ordered_json(d.last_code)},
      {"last_error", d.last_error.empty() ? ordered_json() : ordered_json(d.last_error)},
      {"created", d.created},
      {"updated", d.updated},
      {"next_attempt", d.status == "pending" ? ordered_json(d.next_attempt) : ordered_json()},
      {"delivered", Opt(d.delivered)}};
  if (with_payload) j["payload"] = json::parse(d.payload, nullptr, false);
  return j;
}

ordered_json EventPayload(const std::string& delivery_id, const std::string& project,
                          const AlertEvent& e, double now) {
  const AlertState& s = e.state;
  const Rule& r = e.rule;
  std::string metric =
      s.key.cls.empty() ? r.MetricPath() : "per_class." + s.key.cls + "." + r.metric;
  std::string condition;
  if (r.kind == RuleKind::kBand) {
    condition = s.band_low ? "band [" + Fmt(*s.band_low) + ", " + Fmt(*s.band_high) + "]" : "band";
  } else {
    condition =
        std::string(r.kind == RuleKind::kChangeFromTraining ? "change from training " : "") +
        (r.abs ? "|.| " : "") + r.op + " " + Fmt(r.value);
  }
  const std::string message = project + "/" + s.key.run + " set '" + s.key.set + "': " + r.name +
                              (s.key.cls.empty() ? "" : " (class '" + s.key.cls + "')") + " is " +
                              (e.event == "firing" ? "FIRING" : "resolved") + ": " + metric +
                              " = " + (s.value ? Fmt(*s.value) : std::string("n/a")) + ", " +
                              condition;
  ordered_json j;
  j["delivery_id"] = delivery_id;
  j["event"] = e.event;
  j["project"] = project;
  j["run"] = s.key.run;
  j["set"] = s.key.set;
  j["set_time"] = Opt(s.set_time);
  j["set_time_iso"] = s.set_time ? ordered_json(IsoTime(*s.set_time)) : ordered_json();
  j["class"] = s.key.cls.empty() ? ordered_json() : ordered_json(s.key.cls);
  j["rule"] = {{"id", r.id},
               {"name", r.name},
               {"kind", RuleKindName(r.kind)},
               {"severity", r.severity},
               {"description", r.Describe()}};
  j["metric"] = metric;
  j["value"] = Opt(s.value);
  j["op"] = r.op.empty() ? ordered_json() : ordered_json(r.op);
  j["threshold"] = Opt(s.threshold);
  j["band"] = s.band_low || s.band_high
                  ? ordered_json{{"low", Opt(s.band_low)}, {"high", Opt(s.band_high)}}
                  : ordered_json();
  if (r.kind == RuleKind::kChangeFromTraining) {
    j["set_value"] = Opt(s.set_value);
    j["training_value"] = Opt(s.reference_value);
  }
  j["state"] = s.state;
  j["previous_state"] = e.previous;
  j["time"] = now;
  j["time_iso"] = IsoTime(now);
  j["message"] = message;
  return j;
}

Result<std::unique_ptr<AlertStore>> AlertStore::Open(const fs::path& project_dir,
                                                     bool create_project) {
  std::error_code ec;
  if (create_project && !fs::is_directory(project_dir, ec)) {
    fs::create_directories(project_dir, ec);
    if (ec) {
      return Status::IOError("cannot create the project folder '" + project_dir.string() +
                             "': " + ec.message());
    }
  }
  if (!fs::is_directory(project_dir, ec)) {
    return Status::NotFound("no project folder '" + project_dir.string() + "'");
  }
  const fs::path path = project_dir / kAlertsFile;
  auto db = store::Database::Open(path, /*create=*/true);
  const std::string damaged = "'" + path.string() +
                              "' is not a readable alert store (damaged? move it away and the "
                              "default rules are created afresh)";
  if (!db.ok()) return Status::IOError(damaged + ": " + db.status().message());
  std::unique_ptr<AlertStore> s(
      new AlertStore(std::move(db).value(), path, project_dir.filename().string()));
  Status init = s->Init();
  if (!init.ok()) return Status::IOError(damaged + ": " + init.message());
  return s;
}

Status AlertStore::Init() {
  // An existing store: a read, no write lock (scrapes and GETs open it often).
  if (auto q = db_->Prepare("SELECT value FROM meta WHERE key = 'defaults'"); q.ok()) {
    if (auto has = q->Step(); has.ok() && *has) return Status::OK();
  }
  return db_->Transaction([&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(db_->Exec(kSchema));
    SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                             db_->Prepare("SELECT value FROM meta WHERE key = 'defaults'"));
    SEXTANT_ASSIGN_OR_RETURN(bool has, q.Step());
    if (has) return Status::OK();
    const double now = NowSeconds();
    int position = 0;
    for (const Rule& r : DefaultRules()) {
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement ins,
          db_->Prepare("INSERT OR IGNORE INTO rules(id, position, json, created, updated) "
                       "VALUES(?, ?, ?, ?, ?)"));
      ins.Bind(1, r.id).Bind(2, ++position).Bind(3, RuleToJson(r).dump()).Bind(4, now).Bind(5, now);
      SEXTANT_RETURN_IF_ERROR(ins.Run());
    }
    return db_->Exec(
        "INSERT INTO meta(key, value) VALUES('defaults', '1'), ('schema_version', '1')");
  });
}

Result<std::vector<Rule>> AlertStore::ListRules() {
  SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                           db_->Prepare("SELECT id, json FROM rules ORDER BY position, id"));
  std::vector<Rule> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    const json j = json::parse(q.Text(1), nullptr, false);
    Result<Rule> r = RuleFromJson(j);
    if (!r.ok()) {
      return Status::IOError("'" + path_.string() + "': stored rule '" + q.Text(0) +
                             "' is damaged: " + r.status().message());
    }
    r->id = q.Text(0);
    out.push_back(std::move(r).value());
  }
  return out;
}

Result<Rule> AlertStore::GetRule(const std::string& id) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Rule> rules, ListRules());
  for (Rule& r : rules) {
    if (r.id == id) return std::move(r);
  }
  return Status::NotFound("no alert rule '" + id + "' in project '" + project_ + "'");
}

Result<std::string> AlertStore::NewRuleId(const Rule& rule) {
  const std::string base = Slug(rule.cls.empty() ? rule.metric : rule.MetricPath());
  for (int n = 1; n < 10000; ++n) {
    const std::string id = n == 1 ? base : base + "-" + std::to_string(n);
    SEXTANT_ASSIGN_OR_RETURN(store::Statement q, db_->Prepare("SELECT 1 FROM rules WHERE id = ?"));
    q.Bind(1, id);
    SEXTANT_ASSIGN_OR_RETURN(bool taken, q.Step());
    if (!taken) return id;
  }
  return Status::Internal("no free rule id for '" + base + "'");
}

Result<Rule> AlertStore::AddRule(Rule rule) {
  SEXTANT_RETURN_IF_ERROR(ValidateRule(rule));
  if (rule.name.empty()) rule.name = rule.Describe();
  Status st = db_->Transaction([&]() -> Status {
    if (rule.id.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(rule.id, NewRuleId(rule));
    } else {
      SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                               db_->Prepare("SELECT 1 FROM rules WHERE id = ?"));
      q.Bind(1, rule.id);
      SEXTANT_ASSIGN_OR_RETURN(bool taken, q.Step());
      if (taken) {
        return Status::AlreadyExists("rule.id: project '" + project_ + "' already has a rule '" +
                                     rule.id + "'");
      }
    }
    const double now = NowSeconds();
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement ins,
        db_->Prepare("INSERT INTO rules(id, position, json, created, updated) VALUES(?, "
                     "(SELECT COALESCE(MAX(position), 0) + 1 FROM rules), ?, ?, ?)"));
    ins.Bind(1, rule.id).Bind(2, RuleToJson(rule).dump()).Bind(3, now).Bind(4, now);
    return ins.Run();
  });
  if (!st.ok()) return st;
  return rule;
}

Result<Rule> AlertStore::UpdateRule(const std::string& id, Rule rule) {
  rule.id = id;
  SEXTANT_RETURN_IF_ERROR(ValidateRule(rule));
  if (rule.name.empty()) rule.name = rule.Describe();
  SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                           db_->Prepare("UPDATE rules SET json = ?, updated = ? WHERE id = ?"));
  q.Bind(1, RuleToJson(rule).dump()).Bind(2, NowSeconds()).Bind(3, id);
  SEXTANT_RETURN_IF_ERROR(q.Run());
  if (sqlite3_changes(db_->handle()) == 0) {
    return Status::NotFound("no alert rule '" + id + "' in project '" + project_ + "'");
  }
  return rule;
}

Status AlertStore::RemoveRule(const std::string& id) {
  return db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(store::Statement q, db_->Prepare("DELETE FROM rules WHERE id = ?"));
    q.Bind(1, id);
    SEXTANT_RETURN_IF_ERROR(q.Run());
    if (sqlite3_changes(db_->handle()) == 0) {
      return Status::NotFound("no alert rule '" + id + "' in project '" + project_ + "'");
    }
    for (const char* sql :
         {"DELETE FROM states WHERE rule_id = ?", "DELETE FROM history WHERE rule_id = ?"}) {
      SEXTANT_ASSIGN_OR_RETURN(store::Statement d, db_->Prepare(sql));
      d.Bind(1, id);
      SEXTANT_RETURN_IF_ERROR(d.Run());
    }
    return Status::OK();
  });
}

Result<std::vector<Webhook>> AlertStore::ListWebhooks() {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare(
          "SELECT id, url, name, enabled, secret, created FROM webhooks ORDER BY created, id"));
  std::vector<Webhook> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3) != 0, q.Text(4), q.Double(5)});
  }
  return out;
}

Result<Webhook> AlertStore::AddWebhook(Webhook hook) {
  if (hook.url.rfind("http://", 0) != 0 && hook.url.rfind("https://", 0) != 0) {
    return Status::Invalid("webhook.url: expected an http:// or https:// URL, got '" + hook.url +
                           "'");
  }
  if (hook.id.empty()) hook.id = "wh-" + NewId().substr(0, 12);
  if (hook.name.empty()) hook.name = hook.url;
  hook.created = NowSeconds();
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare("INSERT INTO webhooks(id, url, name, enabled, secret, created) VALUES(?, ?, ?, "
                   "?, ?, ?)"));
  q.Bind(1, hook.id).Bind(2, hook.url).Bind(3, hook.name).Bind(4, hook.enabled ? 1 : 0);
  q.Bind(5, hook.secret).Bind(6, hook.created);
  Status st = q.Run();
  if (!st.ok()) {
    if (st.message().find("UNIQUE") != std::string::npos) {
      return Status::AlreadyExists("webhook.id: project '" + project_ +
                                   "' already has a webhook '" + hook.id + "'");
    }
    return st;
  }
  return hook;
}

Status AlertStore::RemoveWebhook(const std::string& id) {
  SEXTANT_ASSIGN_OR_RETURN(store::Statement q, db_->Prepare("DELETE FROM webhooks WHERE id = ?"));
  q.Bind(1, id);
  SEXTANT_RETURN_IF_ERROR(q.Run());
  if (sqlite3_changes(db_->handle()) == 0) {
    return Status::NotFound("no webhook '" + id + "' in project '" + project_ + "'");
  }
  return Status::OK();
}

Result<std::vector<AlertState>> AlertStore::States(const std::optional<std::string>& run) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare(
          std::string("SELECT ") + kStateColumns +
          " FROM states WHERE rule_id IN (SELECT id FROM rules) AND (?1 IS NULL OR run = ?1) "
          "ORDER BY run, (SELECT position FROM rules WHERE rules.id = states.rule_id), "
          "set_time, set_name, class"));
  q.Bind(1, run);
  std::vector<AlertState> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadState(q));
  }
  return out;
}

Result<std::vector<HistoryEntry>> AlertStore::History(const std::optional<std::string>& run,
                                                      int64_t limit) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare("SELECT seq, rule_id, run, set_name, class, time, old, new, value, threshold, "
                   "band_low, band_high FROM history WHERE ?1 IS NULL OR run = ?1 "
                   "ORDER BY seq DESC LIMIT ?2"));
  q.Bind(1, run).Bind(2, limit);
  std::vector<HistoryEntry> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    HistoryEntry h;
    h.seq = q.Int(0);
    h.key = {q.Text(1), q.Text(2), q.Text(3), q.Text(4)};
    h.time = q.Double(5);
    h.old_state = q.Text(6);
    h.new_state = q.Text(7);
    h.value = q.OptDouble(8);
    h.threshold = q.OptDouble(9);
    h.band_low = q.OptDouble(10);
    h.band_high = q.OptDouble(11);
    out.push_back(std::move(h));
  }
  return out;
}

Result<RunEvaluation> AlertStore::EvaluateRun(const json& timeline, double now) {
  if (!timeline.is_object() || !timeline.contains("run") || !timeline["run"].is_string()) {
    return Status::Invalid("timeline: expected an object with \"run\" and \"sets\"");
  }
  const std::string run = timeline["run"].get<std::string>();
  RunEvaluation out;
  Status st = db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Rule> rules, ListRules());
    std::map<StateKey, AlertState> previous;
    {
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement q,
          db_->Prepare(std::string("SELECT ") + kStateColumns + " FROM states WHERE run = ?"));
      q.Bind(1, run);
      while (true) {
        SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        AlertState s = ReadState(q);
        previous.emplace(s.key, std::move(s));
      }
    }
    out.evaluation = Evaluate(rules, timeline, previous, now);
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement up,
        db_->Prepare(std::string("INSERT OR REPLACE INTO states(") + kStateColumns +
                     ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement hist,
        db_->Prepare("INSERT INTO history(rule_id, run, set_name, class, time, old, new, value, "
                     "threshold, band_low, band_high) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    for (const AlertState& s : out.evaluation.states) {
      up.Bind(1, s.key.rule_id).Bind(2, s.key.run).Bind(3, s.key.set).Bind(4, s.key.cls);
      up.Bind(5, s.state).Bind(6, s.value).Bind(7, s.threshold).Bind(8, s.band_low);
      up.Bind(9, s.band_high).Bind(10, s.set_value).Bind(11, s.reference_value);
      up.Bind(12, s.detail).Bind(13, s.set_time).Bind(14, s.since).Bind(15, s.updated);
      SEXTANT_RETURN_IF_ERROR(up.Run());
      const auto prev = previous.find(s.key);
      const std::string before = prev == previous.end() ? "" : prev->second.state;
      if (before != s.state) {
        hist.Bind(1, s.key.rule_id).Bind(2, s.key.run).Bind(3, s.key.set).Bind(4, s.key.cls);
        hist.Bind(5, now).Bind(6, before.empty() ? std::string("none") : before).Bind(7, s.state);
        hist.Bind(8, s.value).Bind(9, s.threshold).Bind(10, s.band_low).Bind(11, s.band_high);
        SEXTANT_RETURN_IF_ERROR(hist.Run());
      }
    }
    if (out.evaluation.events.empty()) return Status::OK();
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Webhook> hooks, ListWebhooks());
    for (const AlertEvent& e : out.evaluation.events) {
      for (const Webhook& w : hooks) {
        if (!w.enabled) continue;
        Delivery d;
        d.id = NewId();
        d.webhook_id = w.id;
        d.url = w.url;
        d.event = e.event;
        d.key = e.state.key;
        d.created = now;
        d.payload = EventPayload(d.id, project_, e, now).dump();
        SEXTANT_RETURN_IF_ERROR(InsertDelivery(*db_, d));
        out.delivery_ids.push_back(d.id);
      }
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<Delivery>> AlertStore::QueryDeliveries(const std::string& where, int64_t limit,
                                                          const std::vector<std::string>& args) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare(std::string("SELECT ") + kDeliveryColumns + " FROM deliveries " + where +
                   " LIMIT " + std::to_string(limit)));
  for (size_t i = 0; i < args.size(); ++i) q.Bind(static_cast<int>(i + 1), args[i]);
  std::vector<Delivery> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadDelivery(q));
  }
  return out;
}

Result<std::vector<Delivery>> AlertStore::Deliveries(const std::optional<std::string>& status,
                                                     int64_t limit) {
  if (status) return QueryDeliveries("WHERE status = ? ORDER BY seq DESC", limit, {*status});
  return QueryDeliveries("ORDER BY seq DESC", limit, {});
}

Result<Delivery> AlertStore::GetDelivery(const std::string& id) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Delivery> d, QueryDeliveries("WHERE id = ?", 1, {id}));
  if (d.empty()) return Status::NotFound("no delivery '" + id + "' in project '" + project_ + "'");
  return d[0];
}

Result<Delivery> AlertStore::QueueTest(const std::string& webhook_id, double now) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Webhook> hooks, ListWebhooks());
  for (const Webhook& w : hooks) {
    if (w.id != webhook_id) continue;
    Delivery d;
    d.id = NewId();
    d.webhook_id = w.id;
    d.url = w.url;
    d.event = "test";
    d.created = now;
    ordered_json payload = {
        {"delivery_id", d.id},
        {"event", "test"},
        {"project", project_},
        {"webhook", w.id},
        {"time", now},
        {"time_iso", IsoTime(now)},
        {"message", "a test notification from Sextant's project '" + project_ + "'"}};
    d.payload = payload.dump();
    SEXTANT_RETURN_IF_ERROR(InsertDelivery(*db_, d));
    return GetDelivery(d.id);
  }
  return Status::NotFound("no webhook '" + webhook_id + "' in project '" + project_ + "'");
}

Result<std::vector<Delivery>> AlertStore::ClaimPending(double now, bool force, double lease_s) {
  std::vector<Delivery> out;
  Status st = db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement q,
        db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                     " FROM deliveries WHERE status = 'pending' AND lease_until <= ?1 AND "
                     "(?2 OR next_attempt <= ?1) ORDER BY seq LIMIT 1000"));
    q.Bind(1, now).Bind(2, force ? 1 : 0);
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(ReadDelivery(q));
    }
    SEXTANT_ASSIGN_OR_RETURN(store::Statement up,
                             db_->Prepare("UPDATE deliveries SET lease_until = ? WHERE id = ?"));
    for (const Delivery& d : out) {
      up.Bind(1, now + lease_s).Bind(2, d.id);
      SEXTANT_RETURN_IF_ERROR(up.Run());
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Status AlertStore::RecordAttempt(const std::string& id, const std::string& status, int code,
                                 const std::string& error, double now, double next_attempt) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      db_->Prepare("UPDATE deliveries SET attempts = attempts + 1, status = ?, last_code = ?, "
                   "last_error = ?, updated = ?, next_attempt = ?, lease_until = 0, "
                   "delivered = CASE WHEN ? = 'delivered' THEN ? ELSE delivered END WHERE id = ?"));
  q.Bind(1, status).Bind(2, code).Bind(3, error).Bind(4, now).Bind(5, next_attempt);
  q.Bind(6, status).Bind(7, now).Bind(8, id);
  return q.Run();
}

Status AlertStore::Release(const std::string& id) {
  SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                           db_->Prepare("UPDATE deliveries SET lease_until = 0 WHERE id = ?"));
  q.Bind(1, id);
  return q.Run();
}

}  // namespace sextant::alerts
