#pragma once

// Live request events for many clients from one ordered consumer per results stream: each
// gateway replica follows each results stream it has clients for (not one consumer per
// client), and hands every new event to the listeners of its request.
//
// listen() starts the stream's follower before it returns, so a caller that reads the
// stored history after listen() misses nothing: an event stored before the follower started
// is in the history, one stored after reaches the listener (it may be in both; callers skip
// sequences they have sent).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gateway/bus/bus.hpp"

namespace osmosis::gateway {

class ResultsHub {
 public:
  using Listener = std::function<void(const nats::StoredMessage&)>;
  explicit ResultsHub(Bus& bus) : bus_(bus) {}
  ~ResultsHub();

  // Until the handle is dropped. The listener runs on a NATS thread; keep it short.
  Result<std::shared_ptr<void>> listen(const std::string& resultsStream, const std::string& subject,
                                       Listener listener);
  size_t listeners() const;

 private:
  void deliver(const nats::StoredMessage& m);
  void forget(const std::string& subject, uint64_t key);

  Bus& bus_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<void>> followers_;                   // by results stream
  std::unordered_map<std::string, std::map<uint64_t, Listener>> listeners_;  // by subject
  uint64_t nextKey_ = 1;
  size_t count_ = 0;
};

}  // namespace osmosis::gateway
