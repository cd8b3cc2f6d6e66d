// Webhook deliveries (docs/alerts.md, "Webhooks"): a JSON POST per delivery
// with its stable id in the body and in X-Sextant-Delivery (a receiver
// dedupes by it), retried with exponential backoff and jitter on a 5xx, 408,
// 429 or a connection error; any other answer fails the delivery for good.
#pragma once

#include <string>
#include <vector>

#include "alerts/store.h"

namespace sextant::alerts {

struct DeliveryOptions {
  int tries = 3;               // attempts per delivery in this pass
  double budget_s = 5;         // the whole pass: no new attempt starts after it
  double retry_delay_s = 0.2;  // before the pass's 2nd attempt; doubles, with jitter
  double timeout_s = 3;        // connect, read and write of one POST
  bool force = false;          // every pending delivery, not only those due
  // After a pass: the next attempt in min(base · 2^(attempts-1), max) seconds,
  // times a jitter in [0.5, 1.5); failed for good after max_attempts.
  double backoff_base_s = 30;
  double backoff_max_s = 3600;
  int max_attempts = 12;
};

struct DeliveryReport {
  int delivered = 0, failed = 0, pending = 0;
  std::vector<std::string> errors;  // "<delivery id> to <url>: <error>"
  std::string Summary() const;
};

// One POST's outcome.
struct PostResult {
  int code = 0;       // the HTTP status; 0 when none came
  std::string error;  // empty on a 2xx
  bool retryable = false;
};
PostResult PostJson(const std::string& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    double timeout_s);

// Claims the store's pending deliveries (those due, or all with `force`) and
// sends each, up to `tries` times within the budget.
Result<DeliveryReport> DeliverPending(AlertStore& store, const DeliveryOptions& options);

// "sha256=<hex HMAC-SHA256 of body>".
std::string Signature(const std::string& secret, const std::string& body);

}  // namespace sextant::alerts
