#include <algorithm>

#include "common/contract/gateway_contract.hpp"
#include "gateway/channels/channel_directory.hpp"
#include "operator/api/naming.hpp"
#include "operator/api/spec.hpp"

namespace osmosis::gateway {

std::string publishSubjectFor(const std::string& firstSubject) {
  std::string out;
  size_t start = 0;
  while (start <= firstSubject.size()) {
    size_t dot = firstSubject.find('.', start);
    if (dot == std::string::npos) dot = firstSubject.size();
    std::string token = firstSubject.substr(start, dot - start);
    if (token == "*" || token == ">") token = "gateway";
    if (!out.empty()) out += ".";
    out += token;
    start = dot + 1;
  }
  return out;
}

ChannelEntry channelEntry(const nlohmann::json& channel) {
  ChannelEntry e;
  const auto md = channel.value("metadata", nlohmann::json::object());
  if (md.is_object()) {
    if (auto it = md.find("namespace"); it != md.end() && it->is_string()) e.ns = *it;
    if (auto it = md.find("name"); it != md.end() && it->is_string()) e.name = *it;
  }
  const auto parsed = api::parseChannel(channel);
  if (!parsed.problems.empty() || parsed.spec.subjects.empty()) return e;
  const auto& s = parsed.spec;
  e.enabled = s.gateway.enabled;
  e.publishSubject = publishSubjectFor(s.subjects.front());
  e.stream = s.stream.name;
  e.consumer = s.consumer.durable;
  e.resultsStream = api::resultsStreamName(e.ns, e.name);
  e.publishersSecret = s.gateway.publishersSecret;
  e.maxBacklog = s.gateway.maxBacklog;
  e.maxMessageBytes = s.stream.maxMsgSize;
  // The autoscaler's learned per-pod rate times the replicas it runs now (its status fields).
  const auto status = channel.value("status", nlohmann::json::object());
  if (status.is_object()) {
    double perPod = 0;
    int64_t ready = 0;
    if (auto t = status.find("throughput"); t != status.end() && t->is_object()) {
      if (auto r = t->find("perPodRate"); r != t->end() && r->is_number()) perPod = *r;
    }
    if (auto r = status.find("replicas"); r != status.end() && r->is_object()) {
      if (auto n = r->find("current"); n != r->end() && n->is_number_integer()) ready = *n;
    }
    if (perPod > 0 && ready > 0) e.drainPerSecond = perPod * static_cast<double>(ready);
  }
  return e;
}

}  // namespace osmosis::gateway
