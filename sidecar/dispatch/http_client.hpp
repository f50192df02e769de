#pragma once

// The sidecar's HTTP/1.1 client to the app on 127.0.0.1, on Boost.Beast and Boost.Asio:
// `slots` keep-alive connections, each carrying one request at a time, all driven by the
// caller's thread (one io_context; wait() runs it). One thread for every message in flight
// cost more CPU in wake-ups and lock hand-offs than the HTTP itself on a small node; here one
// turn answers many connections.
//
// A connection is reused only when its state is certain: the request was fully written, the
// final answer fully read (1xx answers before it skipped), nothing else arrived, and neither
// side asked to close. Anything else closes it. A request is never sent twice: a connection
// that fails after the request went out fails the delivery (the message is nakked, so a
// redelivery carries a new delivery count).
// Not thread-safe, except wake().

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/dispatch/outcome.hpp"

namespace osmosis::sidecar {

// A request to the app: a Beast request message (see http_client.cpp), built with
// RequestBuilder.
struct AppRequest;

class AppClient {
 public:
  using SteadyClock = std::chrono::steady_clock;
  struct Done {
    int slot;
    DeliveryResult result;
  };

  AppClient(int port, int slots);
  ~AppClient();
  AppClient(const AppClient&) = delete;
  AppClient& operator=(const AppClient&) = delete;

  int slots() const;
  bool busy(int slot) const;

  // Where to build the next request of `slot` (RequestBuilder).
  AppRequest* request(int slot);
  // Sends the request built for `slot`, which must not be busy, over its kept-alive connection
  // or a new one. The answer (or the failure) lands in `done` of a later wait(), or in `done`
  // at once when no connection can be made.
  void start(int slot, std::vector<Done>* done);
  // Gives up on the request on `slot` and closes its connection; nothing lands in `done` for it.
  void cancel(int slot);
  // Waits up to `timeout` (negative: until something happens) for the app's answers or
  // wake(), and appends the finished requests to `done`.
  void wait(std::chrono::milliseconds timeout, std::vector<Done>* done);
  // Thread-safe: makes the current (or the next) wait() return at once.
  void wake();

  // True when something accepts connections on the port (opens and closes one).
  static bool reachable(int port);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds a POST in a request: begin(), header()..., end(body).
class RequestBuilder {
 public:
  explicit RequestBuilder(AppRequest* out) : out_(out) {}
  void begin(std::string_view path, int port, size_t bodySize);
  // Keep a 2xx answer's headers and body (up to `maxBodyBytes`) in the DeliveryResult, for a
  // results event. Until the next begin().
  void capture(size_t maxBodyBytes);
  // The value's CR, LF and NUL become spaces (they would end the header).
  void header(std::string_view name, std::string_view value);
  // The body is not copied: it must stay alive and unchanged until the request finished or
  // was cancelled.
  void end(std::string_view body);

 private:
  AppRequest* out_;
};

// The request as it goes on the wire (for tests).
std::string serialize(const AppRequest& request);

// A name a header can have (no spaces, colons or control characters).
bool validHeaderName(std::string_view name);

}  // namespace osmosis::sidecar
