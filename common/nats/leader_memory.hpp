#pragma once

// Which consumers have answered with a named leader, so are replicated: a later answer for one
// of them that names no leader is not its leader's. A replicated consumer's config says
// num_replicas 0 (it inherits the stream's), and a single server's consumer info has no
// cluster block at all, so one answer alone cannot tell; what was seen before can. Seen in
// NatsClusterFaultTest during a stream leader's failover: a consumer info with no cluster
// block and a backlog of 0 in the middle of 53,000.

#include <mutex>
#include <set>
#include <string>

#include "common/nats/jetstream_types.hpp"

namespace osmosis::nats {

class LeaderMemory {
 public:
  // Remembers `info`'s consumer when a leader answered; marks `info` leaderless when none did
  // and one did before.
  void check(ConsumerInfo& info) {
    const std::string key = info.stream + "/" + info.name;
    std::lock_guard lock(mu_);
    if (!info.leader.empty()) {
      led_.insert(key);
    } else if (led_.count(key)) {
      info.leaderless = true;
    }
  }

 private:
  std::mutex mu_;
  std::set<std::string> led_;  // "stream/consumer"; bounded by the consumers a process reads
};

}  // namespace osmosis::nats
