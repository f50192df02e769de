// The app's answers (anything a worker, or something squatting its port, sends back): read at
// any chunking, the same verdict; never a crash; a success only from a status line 2xx.
#include "sidecar/dispatch/response_reader.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using osmosis::sidecar::ResponseReader;

struct Verdict {
  ResponseReader::State state;
  int status;
};

Verdict readAll(std::string_view in, size_t step) {
  ResponseReader r;
  std::string pending;
  ResponseReader::State st = ResponseReader::State::kNeedMore;
  for (size_t at = 0; at < in.size() && st == ResponseReader::State::kNeedMore; at += step) {
    pending.append(in.substr(at, step));
    size_t used = 0;
    st = r.parse(pending, &used);
    FUZZ_REQUIRE(used <= pending.size());
    pending.erase(0, used);
  }
  if (st == ResponseReader::State::kNeedMore) st = r.closed();
  return {st, r.status()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = asText(data + 1, size - 1);
  Verdict whole = readAll(text, text.size() + 1);
  Verdict chunked = readAll(text, 1 + data[0] % 13);
  FUZZ_REQUIRE(whole.state == chunked.state);
  if (whole.state == ResponseReader::State::kDone) {
    FUZZ_REQUIRE(whole.status == chunked.status);
    FUZZ_REQUIRE(whole.status >= 200 && whole.status <= 999);
  }
  return 0;
}
