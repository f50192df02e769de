#include "operator/api/subject_policy.hpp"

#include "common/contract/gateway_contract.hpp"
#include "common/nats/subject.hpp"

namespace osmosis::api {

Result<SubjectGrant> parseSubjectGrant(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return makeError(Error::Code::kInvalidArgument,
                     "--subject-grant \"" + std::string(text) + "\": " + why +
                         " (expected NAMESPACE=PATTERN, for example legacy=orders.>)");
  };
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return bad("no '='");
  SubjectGrant g{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
  if (auto why = nats::tokenProblem(g.ns)) return bad("namespace: " + *why);
  if (auto why = nats::subjectProblem(g.pattern)) return bad("pattern: " + *why);
  auto first = nats::subjectTokens(g.pattern).front();
  if (first == "*" || first == ">") return bad("the pattern's first token must be literal");
  return g;
}

std::optional<std::string> subjectOwnershipProblem(const std::string& ns,
                                                   const std::string& subject,
                                                   const SubjectPolicy& policy) {
  const std::string_view first = nats::subjectTokens(subject).front();
  if (!first.empty() && (first.front() == '$' || first == "_INBOX"))
    return "\"" + subject + "\" is reserved for NATS itself ($... and _INBOX subjects)";
  if (nats::subjectsOverlap(subject, policy.reportPrefix + ".>"))
    return "\"" + subject + "\" overlaps the sidecars' report subjects " + policy.reportPrefix +
           ".>, which are reserved";
  // The gateway's subjects: a Channel capturing them would steal other Channels' results (the
  // operator's results streams hold them) or broadcasts; a sidecar would publish into it.
  for (const char* root :
       {contract::gateway::kResultsSubjectRoot, contract::gateway::kBroadcastSubjectRoot}) {
    if (nats::subjectsOverlap(subject, std::string(root) + ".>"))
      return "\"" + subject + "\" overlaps the gateway's subjects " + root +
             ".>, which are reserved";
  }
  if (first == ns) return std::nullopt;
  for (const auto& g : policy.grants) {
    if (g.ns == ns && nats::subjectCovers(g.pattern, subject)) return std::nullopt;
  }
  return "\"" + subject + "\" is outside namespace " + ns +
         "'s subjects: a Channel may only use subjects starting with \"" + ns +
         ".\" unless a cluster admin grants more (operator flag --subject-grant " + ns +
         "=PATTERN)";
}

}  // namespace osmosis::api
