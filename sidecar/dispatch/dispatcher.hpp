#pragma once

// Dispatch mode: one puller thread fetches from the durable consumer as long as there is room
// under the concurrency limit (and the app accepts connections); one delivery thread POSTs
// the messages to the app over up to `concurrency` keep-alive connections at once (AppClient,
// run by that thread), settles each as dispatch/outcome decides and sends in-progress for long
// handlers every half ackWait. Messages whose settling waits on a publish the server must
// confirm first (a dead letter, a request's final results event) are settled on a third
// thread, which holds them (in progress) and retries while that publish fails.

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
#include "sidecar/dispatch/http_client.hpp"
#include "sidecar/dispatch/outcome.hpp"
#include "sidecar/state.hpp"

namespace osmosis::sidecar {

class Reporter;
namespace results {
class Publisher;
}

class Dispatcher {
 public:
  // `results`: publishes results events for gateway requests (nullptr: --results is off).
  Dispatcher(const Config& config, State& state, std::shared_ptr<nats::Connection> conn,
             Reporter* reporter, results::Publisher* results = nullptr);
  ~Dispatcher();

  void start();
  // Graceful drain: stop pulling, nak what was pulled but not started, let in-flight
  // deliveries finish within `grace`, then abandon and nak the rest. Returns how many
  // in-flight deliveries had to be abandoned.
  int drain(milliseconds grace);

 private:
  using SteadyClock = std::chrono::steady_clock;
  // What the consumer says (read at each bind); swapped whole under mu_, so each delivery
  // keeps a consistent copy.
  struct Settings {
    RetryPolicy policy;
    milliseconds inProgressEvery{15000};
  };
  // A message handed to the app on one of the client's connections.
  struct Flight {
    std::optional<nats::Message> msg;
    std::shared_ptr<const Settings> settings;
    SteadyClock::time_point start;
    SteadyClock::time_point deadline;
    SteadyClock::time_point nextProgress;
    std::string requestId;  // a gateway request's (results events); empty: none
  };
  // A message waiting for the publishes that come before its settlement: for a term its dead
  // letter, then its final results event (stored before the ack or term, so a request never
  // ends without its result). Held (in progress) and retried while a publish fails: never
  // acked without its result, and never nakked on its last delivery, where the server would
  // then keep it but never deliver it again (issue 16, item 11).
  struct Parked {
    nats::Message msg;
    Settlement decision;
    DeliveryResult result;
    std::shared_ptr<const Settings> settings;
    std::string requestId;
    const char* finalEvent = nullptr;  // the event's name; nullptr: none (or already stored)
    std::string finalBody;
    bool deadLetterPending = false;  // a term's dead letter, not yet published
    int failures = 0;
    SteadyClock::time_point nextAttempt{};
    SteadyClock::time_point nextProgress{};
  };
  void pullLoop();
  void deliverLoop();
  void parkedLoop();
  bool bind();
  void begin(Flight& flight, int slot, nats::Message msg, std::shared_ptr<const Settings> settings,
             std::vector<AppClient::Done>* done);
  // Settles a finished delivery; false when it was parked for the third thread instead. Moves
  // the kept answer out of `r`.
  bool finish(Flight& flight, DeliveryResult& r);
  // The request's final event (result or failed) for a settlement; nullptr when none is due.
  const char* finalEvent(const Settlement& d, DeliveryResult& r, std::string* body) const;
  // Empties the flight; its message goes to `dead`, freed in batches.
  void retire(Flight& flight, std::vector<nats::Message>& dead);
  // Acks, naks or terms (a dead-letter publish, if any, succeeded before).
  void settle(nats::Message& msg, const Settlement& d);
  // `n` messages settled: room for the puller, and maybe the end of a drain.
  void release(int n);
  // One try at publishing the dead-letter copy; the error when it failed.
  Status deadLetter(nats::Message& msg, const Settlement& d, const DeliveryResult& r);
  // Tries the parked message's publishes once; true when it is settled (published and settled,
  // or given up on because the sidecar stops: nakked).
  bool tryParked(Parked& p, bool givingUp);
  // Sleeps up to `d` unless pulling stops first; false when it stopped.
  bool pause(milliseconds d);

  const Config& config_;
  State& state_;
  std::shared_ptr<nats::Connection> conn_;
  Reporter* reporter_;
  results::Publisher* results_;
  std::shared_ptr<nats::Connection> pullConn_;  // the pull subscription's (see bind)
  std::optional<nats::JetStream> js_;
  std::optional<nats::PullSubscription> sub_;
  std::vector<nats::PullSubscription> retired_;  // replaced, but messages may still use them
  std::shared_ptr<const Settings> settings_;

  std::unique_ptr<AppClient> app_;

  std::mutex mu_;
  std::condition_variable roomCv_;   // puller waits for room under the limit
  std::condition_variable idleCv_;   // drain waits for in-flight to finish
  std::deque<nats::Message> queue_;  // pulled, not yet started
  int outstanding_ = 0;              // queued + in flight + parked
  bool stopPulling_ = false;
  bool pullerWaiting_ = false;  // in roomCv_ for room (woken only then)
  bool closed_ = false;         // the delivery thread exits when nothing is left
  std::atomic<bool> abandon_{false};
  std::atomic<int> abandoned_{0};

  std::mutex parkMu_;
  std::condition_variable parkCv_;
  std::deque<Parked> parked_;
  bool parkClosed_ = false;

  std::thread puller_;
  std::thread deliverer_;
  std::thread parkedThread_;
};

}  // namespace osmosis::sidecar
