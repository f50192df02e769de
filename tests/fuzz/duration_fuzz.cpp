// Durations from flags and Channels: never a crash or a wrap-around; what parses formats back
// to the same value.
#include "common/util/duration.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto d = osmosis::parseDuration(asText(data, size));
  if (!d) return 0;
  FUZZ_REQUIRE(d.value().count() >= 0);
  auto again = osmosis::parseDuration(osmosis::formatDuration(d.value()));
  FUZZ_REQUIRE(again.ok() && again.value() == d.value());
  return 0;
}
