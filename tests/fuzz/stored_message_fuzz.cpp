// Replies of $JS.API.STREAM.MSG.GET (common/nats/jetstream_json parseStoredMessage), as the
// gateway reads a request's last event: an error or a message with a subject and a sequence,
// never a crash; what parses goes through the gateway's event and result code
// (tests/fuzz/gateway_events.hpp).
#include "common/nats/jetstream_json.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/gateway_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reply = osmosis::nats::parseApiReply(asText(data, size), "reading");
  if (!reply) return 0;
  auto m = osmosis::nats::parseStoredMessage(reply.value());
  if (!m) {
    FUZZ_REQUIRE(!m.error().message.empty());
    return 0;
  }
  FUZZ_REQUIRE(!m->subject.empty() && m->sequence > 0);
  osmosis::fuzz::checkStoredEvent(m.value());
  return 0;
}
