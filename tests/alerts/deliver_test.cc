#include "alerts/deliver.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "alerts/notify.h"
#include "alerts/timeline_fixture.h"
#include "testing.h"

namespace sextant::alerts {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;
using testing::MakeTimeline;

// A webhook receiver on loopback that answers 500 to the first POST of each
// delivery id, then 200, and keeps what it accepted.
class Receiver {
 public:
  explicit Receiver(int fail_first = 1) : fail_first_(fail_first) {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      const std::string id = req.get_header_value("X-Sextant-Delivery");
      if (seen_[id]++ < fail_first_) {
        res.status = 500;
        res.set_content("try again", "text/plain");
        return;
      }
      accepted_.push_back(json::parse(req.body));
      bodies_.push_back(req.body);
      headers_.push_back(id);
      signatures_.push_back(req.get_header_value("X-Sextant-Signature"));
      res.status = 200;
    });
    server_.Post("/gone",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 410; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url(const char* path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<json> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::string> headers() {
    std::lock_guard lock(mu_);
    return headers_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> signatures() {
    std::lock_guard lock(mu_);
    return signatures_;
  }

 private:
  int fail_first_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, int> seen_;
  std::vector<json> accepted_;
  std::vector<std::string> headers_, signatures_, bodies_;
};

DeliveryOptions Fast() {
  DeliveryOptions o;
  o.retry_delay_s = 0.01;
  o.budget_s = 30;  // generous: the bound is not what these tests are about
  return o;
}

// <tmp>/proj/r1 with a project store holding one threshold rule and no defaults.
struct Project {
  TempDir dir;
  fs::path run_dir;
  std::unique_ptr<AlertStore> store;
  Project() {
    run_dir = dir.path() / "proj" / "r1";
    fs::create_directories(run_dir);
    store = std::move(AlertStore::Open(run_dir.parent_path())).value();
    for (const Rule& r : DefaultRules()) EXPECT_OK(store->RemoveRule(r.id));
    EXPECT_OK(
        store
            ->AddRule(*RuleFromJson(
                {{"id", "drift20"}, {"metric", "drifted_share"}, {"op", ">"}, {"value", 0.2}}))
            .status());
  }
};

TEST(AlertDelivery, EachFiringAndResolutionArrivesOnceAfterA500) {
  Receiver receiver;
  Project p;
  ASSERT_OK(p.store->AddWebhook({.url = receiver.url(), .secret = "s3cret"}).status());
  FinishAlerts first = EvaluateAfterFinish(
      p.run_dir, MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.5}, {"d3", 0.4}}), Fast());
  EXPECT_EQ(first.warning, "");
  EXPECT_EQ(first.events, 2);
  EXPECT_EQ(first.delivery.delivered, 2);
  EXPECT_NE(first.Message().find("2 firing"), std::string::npos) << first.Message();
  // The same timeline again (a refresh that changed nothing): nothing sent.
  FinishAlerts again = EvaluateAfterFinish(
      p.run_dir, MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.5}, {"d3", 0.4}}), Fast());
  EXPECT_EQ(again.events, 0);
  // d2 recovers.
  FinishAlerts later = EvaluateAfterFinish(
      p.run_dir, MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.1}, {"d3", 0.4}}), Fast());
  EXPECT_EQ(later.events, 1);
  EXPECT_EQ(later.delivery.delivered, 1);

  const std::vector<json> got = receiver.accepted();
  ASSERT_EQ(got.size(), 3u);
  std::multiset<std::string> events;
  for (const json& j : got)
    events.insert(j["set"].get<std::string>() + " " + j["event"].get<std::string>());
  EXPECT_EQ(events, (std::multiset<std::string>{"d2 firing", "d3 firing", "d2 resolved"}));
  // The header is the body's delivery id; the signature is the body's HMAC.
  const std::vector<std::string> ids = receiver.headers();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["delivery_id"], ids[i]);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(receiver.signatures()[i], Signature("s3cret", receiver.bodies()[i]));
  }
  EXPECT_EQ(got[0]["rule"]["id"], "drift20");
  EXPECT_EQ(got[0]["threshold"], 0.2);

  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> history, p.store->Deliveries(std::nullopt, 100));
  ASSERT_EQ(history.size(), 3u);
  for (const Delivery& d : history) {
    EXPECT_EQ(d.status, "delivered");
    EXPECT_EQ(d.attempts, 2);  // the 500, then the 200
    EXPECT_EQ(d.last_code, 200);
    EXPECT_TRUE(d.delivered.has_value());
  }
}

TEST(AlertDelivery, AnUnreachableReceiverNeverFailsTheFinishAndIsRetriedLater) {
  Project p;
  // A port bound but not listening: connections are refused at once.
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int dead_port = ntohs(addr.sin_port);
  ASSERT_OK(p.store
                ->AddWebhook({.id = "later",
                              .url = "http://127.0.0.1:" + std::to_string(dead_port) + "/hook"})
                .status());
  DeliveryOptions o = Fast();
  o.tries = 2;
  FinishAlerts f = EvaluateAfterFinish(p.run_dir, MakeTimeline("r1", {{"d1", 0.5}}), o);
  EXPECT_EQ(f.events, 1);
  EXPECT_EQ(f.delivery.pending, 1);
  EXPECT_NE(f.warning.find("pending"), std::string::npos) << f.warning;
  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> pending, p.store->Deliveries("pending", 10));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].attempts, 2);
  EXPECT_NE(pending[0].last_error.find("connection"), std::string::npos) << pending[0].last_error;
  // Backed off: 30 s · 2^(attempts - 1) with a jitter in [0.5, 1.5).
  EXPECT_GE(pending[0].next_attempt - pending[0].updated, 60 * 0.5 - 1e-6);
  EXPECT_LT(pending[0].next_attempt - pending[0].updated, 60 * 1.5);

  // The receiver comes up; `sextant alerts deliver` (force) sends it.
  Receiver receiver(0);
  ASSERT_OK(p.store->RemoveWebhook("later"));
  // A removed webhook fails its deliveries for good.
  ASSERT_OK_AND_ASSIGN(DeliveryReport gone, DeliverPending(*p.store, [] {
                         DeliveryOptions f = Fast();
                         f.force = true;
                         return f;
                       }()));
  EXPECT_EQ(gone.failed, 1);
  ASSERT_OK(p.store->AddWebhook({.id = "up", .url = receiver.url()}).status());
  ASSERT_OK_AND_ASSIGN(Delivery test, p.store->QueueTest("up", NowSeconds()));
  DeliveryOptions force = Fast();
  force.force = true;
  ASSERT_OK_AND_ASSIGN(DeliveryReport sent, DeliverPending(*p.store, force));
  EXPECT_EQ(sent.delivered, 1);
  ASSERT_EQ(receiver.accepted().size(), 1u);
  EXPECT_EQ(receiver.accepted()[0]["event"], "test");
  EXPECT_EQ(receiver.accepted()[0]["delivery_id"], test.id);
  ::close(sock);
}

TEST(AlertDelivery, AClientErrorFailsForGood) {
  Receiver receiver;
  Project p;
  ASSERT_OK(p.store->AddWebhook({.url = receiver.url("/gone")}).status());
  FinishAlerts f = EvaluateAfterFinish(p.run_dir, MakeTimeline("r1", {{"d1", 0.5}}), Fast());
  EXPECT_EQ(f.delivery.failed, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> failed, p.store->Deliveries("failed", 10));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 1);
  EXPECT_EQ(failed[0].last_code, 410);
}

TEST(AlertDelivery, ADamagedStoreBecomesAWarning) {
  TempDir dir;
  fs::create_directories(dir.path() / "proj" / "r1");
  {
    std::ofstream f(dir.path() / "proj" / ".alerts.db");
    f << "garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage";
  }
  FinishAlerts f =
      EvaluateAfterFinish(dir.path() / "proj" / "r1", MakeTimeline("r1", {{"d1", 0.5}}));
  EXPECT_NE(f.warning.find(".alerts.db"), std::string::npos) << f.warning;
  EXPECT_NE(f.Message().find("alerts warning"), std::string::npos);
}

}  // namespace
}  // namespace sextant::alerts
