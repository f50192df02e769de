#include "operator/api/subject_claims.hpp"

#include <algorithm>
#include <map>

#include "common/nats/subject.hpp"

namespace osmosis::api {
namespace {

struct Held {
  std::string_view subject;
  std::vector<std::string_view> tokens;
  const SubjectClaim* owner;
};

}  // namespace

std::map<std::string, std::string> subjectConflicts(const std::vector<SubjectClaim>& claims) {
  std::vector<const SubjectClaim*> byAge;
  byAge.reserve(claims.size());
  for (const auto& c : claims)
    byAge.push_back(&c);
  std::sort(byAge.begin(), byAge.end(), [](const SubjectClaim* a, const SubjectClaim* b) {
    if (a->creationTimestamp != b->creationTimestamp)
      return a->creationTimestamp < b->creationTimestamp;
    return a->key < b->key;
  });
  std::map<std::string, std::string> refusals;
  // (NATS identity, first token) -> subjects held there.
  std::map<std::pair<std::string_view, std::string_view>, std::vector<Held>> held;
  std::vector<std::vector<std::string_view>> tokens;
  for (const SubjectClaim* claim : byAge) {
    tokens.clear();
    for (const auto& subject : claim->subjects)
      tokens.push_back(nats::subjectTokens(subject));
    std::optional<std::string> refused;
    for (size_t i = 0; i < claim->subjects.size() && !refused; ++i) {
      if (tokens[i].empty()) continue;
      auto bucket = held.find({claim->natsIdentity, tokens[i].front()});
      if (bucket == held.end()) continue;
      for (const Held& h : bucket->second) {
        if (nats::tokensOverlap(tokens[i], h.tokens)) {
          refused = "subject \"" + claim->subjects[i] + "\" overlaps \"" + std::string(h.subject) +
                    "\" of the older Channel " + h.owner->key +
                    " on the same NATS; change spec.subjects";
          break;
        }
      }
    }
    if (refused) {
      refusals.emplace(claim->key, std::move(*refused));
      continue;
    }
    for (size_t i = 0; i < claim->subjects.size(); ++i) {
      if (tokens[i].empty()) continue;
      held[{claim->natsIdentity, tokens[i].front()}].push_back(
          {claim->subjects[i], tokens[i], claim});
    }
  }
  return refusals;
}

std::optional<std::string> subjectConflict(const std::string& key,
                                           const std::vector<SubjectClaim>& claims) {
  auto all = subjectConflicts(claims);
  if (auto it = all.find(key); it != all.end()) return it->second;
  return std::nullopt;
}

}  // namespace osmosis::api
