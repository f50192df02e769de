// NATS headers (anything a publisher writes) to the app's HTTP request: read line by line,
// mapped, built; the request is always well-formed HTTP with the body intact and no header a
// publisher could use to smuggle a second request.
#include <boost/beast/http.hpp>

#include "sidecar/dispatch/header_mapping.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = asText(data, size);
  const size_t end = text.find("\r\n\r\n");
  auto block = osmosis::nats::parseHeaderBlock(
      "NATS/1.0\r\n" +
      std::string(text.substr(0, end == std::string_view::npos ? text.size() : end)) + "\r\n\r\n");
  FUZZ_REQUIRE(block.has_value());
  const std::string body(end == std::string_view::npos ? "" : text.substr(end + 4));
  static osmosis::sidecar::AppClient client(1, 1);  // never sends: only builds slot 0's request
  osmosis::sidecar::AppRequest& request = *client.request(0);
  osmosis::sidecar::RequestBuilder req(&request);
  req.begin("/", 8080, body.size());
  osmosis::sidecar::addNatsHeaders(req, block->headers);
  req.end(body);
  const std::string wire = osmosis::sidecar::serialize(request);

  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 << 20);
  parser.header_limit(1 << 20);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(wire), ec);
  FUZZ_REQUIRE(!ec);
  FUZZ_REQUIRE(parser.is_done());
  FUZZ_REQUIRE(used == wire.size());  // exactly one request
  FUZZ_REQUIRE(parser.get().body() == body);
  return 0;
}
