#include "common/contract/gateway_contract.hpp"

namespace osmosis::contract::gateway {

bool isFinalEvent(std::string_view event) {
  return event == kEventResult || event == kEventFailed;
}

std::string finalEventMsgId(std::string_view requestId) {
  return std::string(requestId) + ".final";
}

bool isDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::optional<RequestId> parseRequestId(std::string_view id) {
  const size_t first = id.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = id.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  RequestId out{std::string(id.substr(0, first)),
                std::string(id.substr(first + 1, second - first - 1)),
                std::string(id.substr(second + 1))};
  if (out.ns.empty() || out.channel.empty()) return std::nullopt;
  if (!isDnsLabel(out.ns) || !isDnsLabel(out.channel)) return std::nullopt;
  if (out.random.size() != kRandomHexChars) return std::nullopt;
  for (char c : out.random)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return out;
}

std::string formatRequestId(const std::string& ns, const std::string& channel,
                            const std::string& random) {
  return ns + "." + channel + "." + random;
}

std::string resultsSubject(std::string_view requestId) {
  return std::string(kResultsSubjectRoot) + "." + std::string(requestId);
}

std::string resultsStreamSubject(const std::string& ns, const std::string& channel) {
  return std::string(kResultsSubjectRoot) + "." + ns + "." + channel + ".>";
}

std::string broadcastSubject(const std::string& ns, const std::string& channel) {
  return std::string(kBroadcastSubjectRoot) + "." + ns + "." + channel;
}

}  // namespace osmosis::contract::gateway
