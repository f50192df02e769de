// A Channel as the API server hands it over (any JSON, the schema may have been bypassed):
// problems or a spec, never a crash; a spec without problems holds only what NATS and the
// request line can carry.
#include <nlohmann/json.hpp>

#include "common/http/path.hpp"
#include "common/nats/subject.hpp"
#include "operator/api/spec.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(asText(data, size), nullptr, false);
  if (j.is_discarded()) return 0;
  nlohmann::json channel =
      j.is_object() && j.contains("metadata")
          ? j
          : nlohmann::json{{"metadata", {{"namespace", "shop"}, {"name", "orders"}}}, {"spec", j}};
  auto parsed = osmosis::api::parseChannel(channel);
  (void)osmosis::api::describe(parsed.problems);
  if (!parsed.problems.empty()) return 0;
  for (const auto& s : parsed.spec.subjects)
    FUZZ_REQUIRE(!osmosis::nats::subjectProblem(s));
  FUZZ_REQUIRE(!osmosis::http::pathProblem(parsed.spec.appPath));
  FUZZ_REQUIRE(parsed.spec.consumer.ackWait.count() > 0);
  (void)osmosis::api::subjectPolicyProblems("shop", parsed.spec, {});
  return 0;
}
