#include "alerts/deliver.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <thread>

namespace sextant::alerts {

namespace {

using Clock = std::chrono::steady_clock;

double Jitter(double lo, double hi) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

}  // namespace

std::string DeliveryReport::Summary() const {
  std::string s = std::to_string(delivered) + " delivered, " + std::to_string(pending) +
                  " pending, " + std::to_string(failed) + " failed";
  return s;
}

std::string Signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

PostResult PostJson(const std::string& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    double timeout_s) {
  PostResult out;
  // scheme://host[:port] and the path (with its query).
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    out.error = "not an http(s) URL";
    return out;
  }
  const size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  try {
    httplib::Client client(origin);
    if (!client.is_valid()) {
      out.error = "cannot make a client for '" + origin + "'";
      return out;
    }
    const auto sec = static_cast<time_t>(timeout_s);
    const auto usec = static_cast<time_t>((timeout_s - static_cast<double>(sec)) * 1e6);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.enable_server_certificate_verification(true);  // https: the system's CAs
    httplib::Headers h;
    for (const auto& [k, v] : headers) h.emplace(k, v);
    auto res = client.Post(path, h, body, "application/json");
    if (!res) {
      out.error = "connection error: " + httplib::to_string(res.error());
      out.retryable = true;
      return out;
    }
    out.code = res->status;
    if (res->status >= 200 && res->status < 300) return out;
    out.error = "HTTP " + std::to_string(res->status);
    if (!res->body.empty()) out.error += ": " + res->body.substr(0, 200);
    out.retryable = res->status >= 500 || res->status == 408 || res->status == 429;
  } catch (const std::exception& e) {
    out.error = std::string("unexpected error: ") + e.what();
    out.retryable = true;
  }
  return out;
}

Result<DeliveryReport> DeliverPending(AlertStore& store, const DeliveryOptions& o) {
  DeliveryReport report;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.budget_s));
  // The claim outlasts the pass, so a second deliverer leaves these alone.
  const double lease = o.budget_s + o.tries * o.timeout_s + 60;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Delivery> due,
                           store.ClaimPending(NowSeconds(), o.force, lease));
  if (due.empty()) return report;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Webhook> hooks, store.ListWebhooks());
  std::map<std::string, Webhook> by_id;
  for (const Webhook& w : hooks) by_id[w.id] = w;
  for (const Delivery& d : due) {
    int attempts = d.attempts;
    std::string status = "pending";
    PostResult last;
    auto hook = by_id.find(d.webhook_id);
    if (hook == by_id.end()) {
      last.error = "the webhook was removed";
      status = "failed";
    }
    for (int i = 0; status == "pending" && i < o.tries; ++i) {
      if (i > 0) {
        // Backoff within the pass: retry_delay · 2^(i-1), with jitter, inside the budget.
        const double wait = o.retry_delay_s * std::pow(2.0, i - 1) * Jitter(0.5, 1.0);
        if (Clock::now() + std::chrono::duration<double>(wait) > deadline) break;
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      }
      if (Clock::now() > deadline) break;
      std::vector<std::pair<std::string, std::string>> headers = {{"X-Sextant-Delivery", d.id},
                                                                  {"X-Sextant-Event", d.event},
                                                                  {"User-Agent", "sextant-alerts"}};
      if (!hook->second.secret.empty()) {
        headers.emplace_back("X-Sextant-Signature", Signature(hook->second.secret, d.payload));
      }
      last = PostJson(d.url, d.payload, headers, o.timeout_s);
      ++attempts;
      const double now = NowSeconds();
      if (last.error.empty()) {
        status = "delivered";
      } else if (!last.retryable || attempts >= o.max_attempts) {
        status = "failed";
      }
      const double next =
          now + std::min(o.backoff_max_s, o.backoff_base_s * std::pow(2.0, attempts - 1)) *
                    Jitter(0.5, 1.5);
      SEXTANT_RETURN_IF_ERROR(store.RecordAttempt(d.id, status, last.code, last.error, now, next));
    }
    if (status == "failed" && attempts == d.attempts) {
      // Failed without an attempt (its webhook is gone).
      SEXTANT_RETURN_IF_ERROR(store.RecordAttempt(d.id, status, 0, last.error, NowSeconds(), 0));
    } else if (status == "pending" && attempts == d.attempts) {
      // The budget ran out before this one: release its claim for the next pass.
      SEXTANT_RETURN_IF_ERROR(store.Release(d.id));
    }
    if (status == "delivered") ++report.delivered;
    if (status == "failed") ++report.failed;
    if (status == "pending") ++report.pending;
    if (status != "delivered" && !last.error.empty()) {
      report.errors.push_back(d.id + " to " + d.url + ": " + last.error);
    }
  }
  return report;
}

}  // namespace sextant::alerts
