#pragma once

// Who may use which NATS subjects: the tenancy rule a cluster admin relies on (see
// docs/security.md). Pure.
//
//  - A Channel in namespace NS may use subjects whose first token is NS ("NS", "NS.orders.>").
//  - A cluster admin can grant a namespace more with the operator flag
//    --subject-grant NS=PATTERN (for example legacy=orders.>); a grant's first token is literal,
//    so grants, like namespaces, split the subject space into disjoint first tokens.
//  - Reserved for everyone: subjects overlapping the sidecars' report subjects
//    (<report prefix>.>), the gateway's results and broadcast subjects (osmosis.results.>,
//    osmosis.broadcast.>: common/contract/gateway_contract.hpp), and NATS's own ($JS, $SYS,
//    $KV, ..., _INBOX).
//
// The same rule applies to a Channel's dead-letter subject (a sidecar publishes there with the
// Channel's credentials).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/result.hpp"

namespace osmosis::api {

struct SubjectGrant {
  std::string ns;
  std::string pattern;
};

struct SubjectPolicy {
  std::vector<SubjectGrant> grants;
  std::string reportPrefix = "osmosis.report";
};

// "NS=PATTERN" -> a grant, or why not.
Result<SubjectGrant> parseSubjectGrant(std::string_view text);

// Why a Channel in `ns` may not use `subject` (already valid NATS syntax); nullopt if it may.
std::optional<std::string> subjectOwnershipProblem(const std::string& ns,
                                                   const std::string& subject,
                                                   const SubjectPolicy& policy);

}  // namespace osmosis::api
