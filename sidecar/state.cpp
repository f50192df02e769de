#include "sidecar/state.hpp"

#include <algorithm>

#include "common/util/backoff.hpp"

namespace osmosis::sidecar {
namespace {
int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

State::State()
    : delivered(registry.counter("osmosis_sidecar_messages_delivered_total",
                                 "Messages POSTed to the app (each delivery attempt)")),
      acked(registry.counter("osmosis_sidecar_messages_acked_total",
                             "Messages acked after the app answered 2xx")),
      nakked(
          registry.counter("osmosis_sidecar_messages_nakked_total",
                           "Messages nakked for redelivery (429, 5xx, timeout, refused, drain)")),
      termed(registry.counter("osmosis_sidecar_messages_termed_total",
                              "Messages terminated (other 4xx, or last delivery failed)")),
      deadLettered(registry.counter("osmosis_sidecar_messages_dead_lettered_total",
                                    "Terminated messages published to the dead-letter subject")),
      deadLetterFailures(registry.counter(
          "osmosis_sidecar_dead_letter_failures_total",
          "Dead-letter publishes that failed; the message is held and the publish retried")),
      deadLetterHeld(registry.gauge(
          "osmosis_sidecar_dead_letter_held",
          "Messages held (in progress) because their dead-letter publish keeps failing")),
      pullErrors(registry.counter("osmosis_sidecar_pull_errors_total",
                                  "Failed pulls, consumer binds and NATS connects")),
      settleErrors(registry.counter("osmosis_sidecar_settle_errors_total",
                                    "Failed ack, nak, term or in-progress sends")),
      reportsPublished(registry.counter("osmosis_sidecar_reports_published_total",
                                        "Reports published to the operator")),
      reportErrors(
          registry.counter("osmosis_sidecar_report_errors_total",
                           "Reports that could not be published or lack consumer figures")),
      inFlightGauge(registry.gauge("osmosis_sidecar_messages_in_flight",
                                   "Messages handed to the app and not yet settled")),
      readyGauge(registry.gauge("osmosis_sidecar_ready", "1 when /readyz answers 200")),
      latency(registry.histogram("osmosis_sidecar_delivery_duration_seconds",
                                 "Time from POST to the app's answer (or failure)")),
      resultsPublished(registry.counter(
          "osmosis_sidecar_results_published_total",
          "Results events (and worker broadcasts) published for gateway requests")),
      resultsFailures(registry.counter(
          "osmosis_sidecar_results_failures_total",
          "Results event publishes that failed (final events are retried, the message held)")),
      resultsRefusedIds(registry.counter(
          "osmosis_sidecar_results_refused_ids_total",
          "Messages whose Osmosis-Request-Id is malformed or another channel's: no events")),
      resultsHeld(registry.gauge(
          "osmosis_sidecar_results_held",
          "Messages held (in progress) because their final results event cannot be stored")) {}

void State::enterFlight() {
  int64_t n = inFlight_.fetch_add(1) + 1;
  inFlightGauge.set(static_cast<double>(n));
  if (n == 1) {
    std::lock_guard lock(mu_);
    busy_.setBusy(true, std::chrono::steady_clock::now());
  }
}

void State::leaveFlight() {
  int64_t n = inFlight_.fetch_sub(1) - 1;
  inFlightGauge.set(static_cast<double>(n));
  if (n == 0) {
    std::lock_guard lock(mu_);
    busy_.setBusy(inFlight_.load() > 0, std::chrono::steady_clock::now());
  }
}

double State::takeBusyFraction() {
  std::lock_guard lock(mu_);
  return busy_.takeFraction(std::chrono::steady_clock::now());
}

void State::beat(Loop loop) {
  beats_[static_cast<int>(loop)].store(nowNanos());
}

void State::stopWatching(Loop loop) {
  beats_[static_cast<int>(loop)].store(0);
}

std::string State::wedged(std::chrono::steady_clock::duration limit) const {
  const int64_t now = nowNanos();
  const char* names[] = {"puller", "reporter"};
  for (int i = 0; i < 2; ++i) {
    int64_t b = beats_[i].load();
    if (b != 0 && now - b > std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count())
      return names[i];
  }
  return "";
}

void State::setError(std::string error) {
  std::lock_guard lock(mu_);
  error_ = std::move(error);
}

std::string State::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

}  // namespace osmosis::sidecar
