#pragma once

// Publishes the pod's report (common/report) every interval, and at once when the backlog
// moves a lot (dispatch mode: the num_pending each pulled message carries; report mode: the
// consumer read every quarter interval).

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/nats/jetstream.hpp"
#include "common/report/large_change.hpp"
#include "common/report/report.hpp"
#include "sidecar/config.hpp"
#include "sidecar/report/rate.hpp"
#include "sidecar/state.hpp"

namespace osmosis::sidecar {

class Reporter {
 public:
  Reporter(const Config& config, State& state, std::shared_ptr<nats::Connection> conn);
  ~Reporter();

  void start();
  // Stops the loop, then publishes a last report (final=true) and flushes it out.
  void stopWithFinalReport();
  // Dispatch mode: the consumer's num_pending as seen on a pulled message.
  void observePending(uint64_t pending);

 private:
  void loop();
  void publish(bool final);

  const Config& config_;
  State& state_;
  std::shared_ptr<nats::Connection> conn_;
  std::optional<nats::JetStream> js_;
  std::string subject_;
  RateMeter rate_;
  report::LargeChangePolicy largeChange_;
  uint64_t sequence_ = 0;
  std::optional<nats::ConsumerInfo> lastInfo_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
  std::atomic<uint64_t> observed_{0};
  std::atomic<uint64_t> lastReportedPending_{0};
  std::thread thread_;
};

}  // namespace osmosis::sidecar
