// Replies of the JetStream API (a server, or whatever answers on its subjects): an error or
// the info, never a crash.
#include "common/nats/jetstream_json.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reply = osmosis::nats::parseApiReply(asText(data, size), "fuzzing");
  if (!reply) {
    FUZZ_REQUIRE(reply.error().message.rfind("fuzzing: ", 0) == 0);
    return 0;
  }
  (void)osmosis::nats::parseStreamInfo(reply.value());
  (void)osmosis::nats::parseConsumerInfo(reply.value());
  return 0;
}
