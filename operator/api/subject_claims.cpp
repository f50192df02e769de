#include "operator/api/subject_claims.hpp"

#include <algorithm>
#include <map>

#include "common/nats/subject.hpp"

namespace osmosis::api {
namespace {

struct Held {
  std::string_view subject;
  const SubjectClaim* owner;
};

}  // namespace

std::optional<std::string> subjectConflict(const std::string& key,
                                           const std::vector<SubjectClaim>& claims) {
  std::vector<const SubjectClaim*> byAge;
  byAge.reserve(claims.size());
  for (const auto& c : claims)
    byAge.push_back(&c);
  std::sort(byAge.begin(), byAge.end(), [](const SubjectClaim* a, const SubjectClaim* b) {
    if (a->creationTimestamp != b->creationTimestamp)
      return a->creationTimestamp < b->creationTimestamp;
    return a->key < b->key;
  });
  // (NATS identity, first token) -> subjects held there.
  std::map<std::pair<std::string_view, std::string_view>, std::vector<Held>> held;
  for (const SubjectClaim* claim : byAge) {
    std::optional<std::string> refused;
    for (const auto& subject : claim->subjects) {
      auto bucket = held.find({claim->natsIdentity, nats::subjectTokens(subject).front()});
      if (bucket == held.end()) continue;
      for (const Held& h : bucket->second) {
        if (nats::subjectsOverlap(subject, h.subject)) {
          refused = "subject \"" + subject + "\" overlaps \"" + std::string(h.subject) +
                    "\" of the older Channel " + h.owner->key +
                    " on the same NATS; change spec.subjects";
          break;
        }
      }
      if (refused) break;
    }
    if (claim->key == key) return refused;
    if (refused) continue;
    for (const auto& subject : claim->subjects)
      held[{claim->natsIdentity, nats::subjectTokens(subject).front()}].push_back({subject, claim});
  }
  return std::nullopt;
}

}  // namespace osmosis::api
