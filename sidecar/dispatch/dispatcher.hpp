#pragma once

// Dispatch mode: one puller thread fetches from the durable consumer as long as there is room
// under the concurrency limit (and the app accepts connections); `concurrency` worker threads
// each hold one keep-alive connection to the app, POST a message, and settle it as
// dispatch/outcome decides. Long handlers get in-progress every half ackWait.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/nats/jetstream.hpp"
#include "sidecar/config.hpp"
#include "sidecar/dispatch/outcome.hpp"
#include "sidecar/state.hpp"

namespace osmosis::sidecar {

class Reporter;

class Dispatcher {
 public:
  Dispatcher(const Config& config, State& state, std::shared_ptr<nats::Connection> conn,
             Reporter* reporter);
  ~Dispatcher();

  void start();
  // Graceful drain: stop pulling, nak what was pulled but not started, let in-flight
  // deliveries finish within `grace`, then abandon and nak the rest. Returns how many
  // in-flight deliveries had to be abandoned.
  int drain(milliseconds grace);

 private:
  // What the consumer says (read at each bind); swapped whole under mu_, so a worker keeps a
  // consistent copy for the message it delivers.
  struct Settings {
    RetryPolicy policy;
    milliseconds inProgressEvery{15000};
  };
  void pullLoop();
  void workLoop(int index);
  bool bind();
  void deliver(nats::Message& msg, class HttpClient& client, const Settings& settings);
  void settle(nats::Message& msg, const Decision& d, const DeliveryResult& r,
              const RetryPolicy& policy);
  bool deadLetter(nats::Message& msg, const Decision& d, const DeliveryResult& r);
  // Sleeps up to `d` unless pulling stops first; false when it stopped.
  bool pause(milliseconds d);

  const Config& config_;
  State& state_;
  std::shared_ptr<nats::Connection> conn_;
  Reporter* reporter_;
  std::optional<nats::JetStream> js_;
  std::optional<nats::PullSubscription> sub_;
  std::vector<nats::PullSubscription> retired_;  // replaced, but messages may still use them
  std::shared_ptr<const Settings> settings_;

  std::mutex mu_;
  std::condition_variable roomCv_;   // puller waits for room under the limit
  std::condition_variable workCv_;   // workers wait for messages
  std::condition_variable idleCv_;   // drain waits for in-flight to finish
  std::deque<nats::Message> queue_;  // pulled, not yet started
  int outstanding_ = 0;              // queued + in flight
  bool stopPulling_ = false;
  bool closed_ = false;  // workers exit when the queue is empty
  std::atomic<bool> abandon_{false};
  std::atomic<int> abandoned_{0};

  std::thread puller_;
  std::vector<std::thread> workers_;
};

}  // namespace osmosis::sidecar
