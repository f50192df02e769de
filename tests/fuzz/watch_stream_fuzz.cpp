// The watch stream from the API server: split at any byte, every line decoded; never a crash,
// and the lines are the same whatever the chunking.
#include <vector>

#include "operator/kube/watch/line_splitter.hpp"
#include "operator/kube/watch/watch_event.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = asText(data + 1, size - 1);
  const size_t step = 1 + data[0] % 17;  // the first byte picks the chunk size
  std::vector<std::string> whole, chunked;
  osmosis::kube::LineSplitter a(1 << 20), b(1 << 20);
  a.feed(text, [&](std::string_view line) { whole.emplace_back(line); });
  for (size_t at = 0; at < text.size(); at += step)
    b.feed(text.substr(at, step), [&](std::string_view line) { chunked.emplace_back(line); });
  FUZZ_REQUIRE(whole == chunked);
  for (const auto& line : whole)
    (void)osmosis::kube::parseWatchEvent(line);
  return 0;
}
