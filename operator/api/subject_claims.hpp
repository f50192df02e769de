#pragma once

// Which Channel holds a subject when two want overlapping ones on the same NATS. Pure.
//
// Claims are honoured oldest first (creation time, then namespace/name); a claim that overlaps
// a subject of an honoured claim on the same NATS is refused and holds nothing. So a refused
// Channel never blocks a younger one (issue 16, item 13), and the outcome does not depend on
// the order in which Channels are reconciled. Only valid, permitted Channels that are not
// being deleted should be passed in: the others hold nothing either.
//
// Subjects only ever overlap when their first tokens are equal (a permitted subject's first
// token is literal: see subject_policy.hpp), so claims are compared within those buckets only.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace osmosis::api {

struct SubjectClaim {
  std::string key;                // namespace/name
  std::string creationTimestamp;  // RFC 3339, compares as a string
  std::string natsIdentity;       // "" for the operator's default NATS, else namespace/secret
  std::vector<std::string> subjects;
};

// Every refused claim's key -> why (naming the older Channel and both subjects), in one pass:
// a controller computes this once per change of the claims, not once per Channel (at 500
// Channels in one namespace, per-Channel replays were the operator's whole idle CPU).
std::map<std::string, std::string> subjectConflicts(const std::vector<SubjectClaim>& claims);

// Why the claim with `key` is refused; nullopt when it is honoured or not among `claims`.
std::optional<std::string> subjectConflict(const std::string& key,
                                           const std::vector<SubjectClaim>& claims);

}  // namespace osmosis::api
