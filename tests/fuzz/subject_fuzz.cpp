// Subjects: whatever passes the grammar stays one JSON string in a JetStream request, and
// overlap is symmetric.
#include <nlohmann/json.hpp>

#include "common/nats/jetstream_json.hpp"
#include "common/nats/subject.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = asText(data, size);
  const size_t cut = text.find('\n');
  const std::string a(text.substr(0, cut)),
      b(cut == std::string_view::npos ? "" : text.substr(cut + 1));
  if (osmosis::nats::subjectProblem(a)) return 0;
  osmosis::nats::StreamConfig c;
  c.name = "FUZZ";
  c.subjects = {a};
  auto back = nlohmann::json::parse(osmosis::nats::toApiJson(c).dump());
  FUZZ_REQUIRE(back["subjects"].size() == 1 && back["subjects"][0] == a);
  FUZZ_REQUIRE(back.size() == osmosis::nats::toApiJson(c).size());
  if (osmosis::nats::subjectProblem(b)) return 0;
  FUZZ_REQUIRE(osmosis::nats::subjectsOverlap(a, b) == osmosis::nats::subjectsOverlap(b, a));
  if (osmosis::nats::subjectCovers(a, b)) FUZZ_REQUIRE(osmosis::nats::subjectsOverlap(a, b));
  return 0;
}
