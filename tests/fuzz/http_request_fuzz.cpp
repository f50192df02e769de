// The HTTP request handling we serve (common/http/server: /healthz, /readyz, /metrics of both
// binaries): whatever bytes a client sends, the server answers with well-formed HTTP
// responses (or closes) and never hangs or crashes; a well-formed request reaches the handler
// with its target and body as sent. And the app-path grammar (common/http/path) never lets a
// byte through that could end or split a request line.
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/http/path.hpp"
#include "common/http/server.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

namespace http = boost::beast::http;

osmosis::http::Server& server() {
  static std::unique_ptr<osmosis::http::Server> s = [] {
    osmosis::http::ServerOptions options;
    // The client half-closes after sending, so no input waits for these; they only have to
    // outlast a starved server thread. At 500 ms, a 10-minute run on a machine at load 11
    // saw the server's own header timeout fire before it read a request it had already
    // received (corpus/http_request/pipelined-garbage-after-a-good-request); the client
    // waits 5 s.
    options.headerTimeout = std::chrono::milliseconds(3000);
    options.bodyTimeout = std::chrono::milliseconds(3000);
    auto started = osmosis::http::Server::start(
        "127.0.0.1", 0,
        [](const osmosis::http::Request& r) {
          osmosis::http::Response out;
          out.body = r.method + " " + r.target + " " + std::to_string(r.body.size());
          return out;
        },
        options);
    FUZZ_REQUIRE(started.ok());
    return std::move(started).value();
  }();
  return *s;
}

// Sends `bytes`, half-closes, reads until the server closes (5 s at most: longer is a hang).
// A connection to the server. Thousands of short connections a second run the loopback out of
// ephemeral ports now and then (EADDRNOTAVAIL), and libFuzzer's timer signal interrupts
// system calls (EINTR), both seen in 10-minute runs: try again, for up to 5 s; a server that
// stopped accepting is still caught.
int connectToServer() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_REQUIRE(fd >= 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    const int err = errno;
    ::close(fd);
    const bool transient = err == EADDRNOTAVAIL || err == EAGAIN || err == EINTR;
    if (!transient) std::fprintf(stderr, "connect: %s\n", std::strerror(err));
    FUZZ_REQUIRE(transient);
    ::usleep(10000);
  }
  FUZZ_REQUIRE(!"no connection to the server within 5 s");
  return -1;
}

std::string exchange(std::string_view bytes) {
  const int fd = connectToServer();
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server closed early (a refused head): fine, read its answer
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      FUZZ_REQUIRE(errno != EAGAIN && errno != EWOULDBLOCK);  // a hang
      break;                                                  // a reset after a refusal
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = asText(data, size);

  if (!osmosis::http::pathProblem(text)) {
    FUZZ_REQUIRE(!text.empty() && text[0] == '/');
    for (unsigned char c : text)
      FUZZ_REQUIRE(c > ' ' && c < 0x7f);
  }

  // What the request should be, by Beast's own parser with the server's limits.
  http::request_parser<http::string_body> expect;
  expect.eager(true);
  expect.header_limit(16 * 1024);
  expect.body_limit(1024);
  boost::beast::error_code ec;
  expect.put(boost::asio::buffer(text.data(), text.size()), ec);
  const bool oneGoodRequest = !ec && expect.is_done();

  const std::string answer = exchange(text);
  http::response_parser<http::string_body> got;
  got.eager(true);
  const size_t used = got.put(boost::asio::buffer(answer), ec);
  if (answer.empty()) {
    FUZZ_REQUIRE(!oneGoodRequest);  // a good request is always answered
    return 0;
  }
  FUZZ_REQUIRE(!ec && got.is_done());  // the first answer is well-formed HTTP
  FUZZ_REQUIRE(used <= answer.size());
  if (oneGoodRequest) {
    const auto& req = expect.get();
    FUZZ_REQUIRE(got.get().result_int() == 200);
    FUZZ_REQUIRE(got.get().body() == std::string(req.method_string()) + " " +
                                         std::string(req.target()) + " " +
                                         std::to_string(req.body().size()));
  }
  return 0;
}
