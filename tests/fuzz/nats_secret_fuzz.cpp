// A NATS Secret (any JSON): a connection or a refusal that names no value, never a crash.
#include <nlohmann/json.hpp>

#include "operator/natspool/nats_connections.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(asText(data, size), nullptr, false);
  if (j.is_discarded()) return 0;
  auto s = osmosis::natspool::parseNatsSecret(j);
  if (!s) {
    (void)nlohmann::json(s.error().message).dump();  // fit for an Event: valid UTF-8
    return 0;
  }
  FUZZ_REQUIRE(!s->options.urls.empty());
  return 0;
}
