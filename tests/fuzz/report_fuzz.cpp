// Sidecar reports off the network: never a crash (a year 9999 used to kill the operator);
// what parses is within bounds and survives a round trip.
#include "common/report/report.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = osmosis::report::parse(asText(data, size));
  if (!r) return 0;
  FUZZ_REQUIRE(r->pod.size() <= osmosis::report::kMaxPodName);
  FUZZ_REQUIRE(r->processed <= osmosis::report::kMaxFigure);
  auto back = osmosis::report::parse(osmosis::report::toJson(r.value()));
  FUZZ_REQUIRE(back.ok());
  FUZZ_REQUIRE(back->pod == r->pod && back->sequence == r->sequence && back->time == r->time);
  return 0;
}
