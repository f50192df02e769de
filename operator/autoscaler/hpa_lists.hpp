#pragma once

// The HorizontalPodAutoscalers of a namespace, listed at most once per period and shared by
// every Channel scaler in it. Each scaler checks whether an HPA also scales its target (to
// say so in status); listing per Channel was one LIST every 10 s per Channel: 50 a second at
// 500 Channels in one namespace, a third of the operator's calls under load (hack/bench/load).
// An error is not kept: the next caller lists again.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/util/result.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::autoscaler {

class HpaLists {
 public:
  HpaLists(kube::Client& client, const kube::Clock& clock, std::chrono::milliseconds maxAge)
      : client_(client), clock_(clock), maxAge_(maxAge) {}

  // The namespace's HPA list (the API's List object), listed at most maxAge ago.
  Result<std::shared_ptr<const nlohmann::json>> get(const std::string& ns);

 private:
  struct Entry {
    std::shared_ptr<const nlohmann::json> list;
    kube::SteadyTime listedAt;
  };
  kube::Client& client_;
  const kube::Clock& clock_;
  const std::chrono::milliseconds maxAge_;
  std::mutex mu_;  // the map only: lists are made outside it
  std::map<std::string, Entry> byNamespace_;
};

}  // namespace osmosis::autoscaler
