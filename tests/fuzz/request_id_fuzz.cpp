// Request ids as clients send them in URLs and publishers in Osmosis-Request-Id, and base64 as
// stored messages and results carry it. An id that parses is exactly its parts and makes a
// results subject of five plain tokens; base64 decodes to what encodes back to the same size
// and decodes again to the same bytes, and any bytes survive encode then decode.
#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace cg = osmosis::contract::gateway;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = asText(data, size);

  if (auto id = cg::parseRequestId(text)) {
    FUZZ_REQUIRE(cg::isDnsLabel(id->ns) && cg::isDnsLabel(id->channel));
    FUZZ_REQUIRE(id->random.size() == cg::kRandomHexChars);
    FUZZ_REQUIRE(cg::formatRequestId(id->ns, id->channel, id->random) == text);
    const std::string subject = cg::resultsSubject(text);
    size_t dots = 0;
    for (char c : subject) {
      FUZZ_REQUIRE(c != '*' && c != '>' && c != ' ' && c != '\t' && c != '\r' && c != '\n');
      dots += c == '.';
    }
    FUZZ_REQUIRE(dots == 4);  // osmosis.results.<ns>.<channel>.<random>
    FUZZ_REQUIRE(subject.find("..") == std::string::npos);
  }

  if (auto decoded = osmosis::base64Decode(text)) {
    const std::string again = osmosis::base64Encode(*decoded);
    FUZZ_REQUIRE(again.size() == text.size());
    FUZZ_REQUIRE(osmosis::base64Decode(again) == decoded);
  }
  const std::string encoded = osmosis::base64Encode(text);
  FUZZ_REQUIRE(encoded.size() % 4 == 0);
  FUZZ_REQUIRE(osmosis::base64Decode(encoded) == std::string(text));
  return 0;
}
