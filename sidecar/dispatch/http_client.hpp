#pragma once

// The sidecar's HTTP/1.1 client to the app on 127.0.0.1: `slots` keep-alive connections, each
// carrying one request at a time, all driven by one thread through epoll. One thread for every
// message in flight (a blocking client each) cost more CPU in wake-ups and lock hand-offs than
// the HTTP itself on a small node; here a busy loop answers many connections per wake-up.
// Not thread-safe, except wake().

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/dispatch/outcome.hpp"

namespace osmosis::sidecar {

// Reads one HTTP/1.1 response from the bytes of a connection as they arrive.
class ResponseReader {
 public:
  enum class State { kNeedMore, kDone, kBad };
  // `buf` holds the bytes received for this response and not yet consumed by it; parse()
  // erases what it has used (bodies are skipped, not kept).
  State parse(std::string* buf);
  // The app closed the connection: true when that ends the response (a body without length).
  bool closeEnds() const { return headDone_ && untilClose_; }
  bool started() const { return started_; }
  bool headDone() const { return headDone_; }
  int status() const { return status_; }
  const std::optional<milliseconds>& retryAfter() const { return retryAfter_; }
  bool keepAlive() const { return keepAlive_; }
  const char* problem() const { return problem_; }

 private:
  State bad(const char* problem);
  bool started_ = false;  // any byte seen
  bool headDone_ = false;
  int status_ = 0;
  std::optional<milliseconds> retryAfter_;
  bool keepAlive_ = true;
  bool chunked_ = false;
  bool untilClose_ = false;
  size_t remaining_ = 0;      // Content-Length bytes still to skip, or of the current chunk
  bool inChunkData_ = false;  // chunked: skipping a chunk's data (and its CRLF)
  bool lastChunk_ = false;    // chunked: the current chunk is the last (size 0)
  const char* problem_ = "";
};

class AppClient {
 public:
  using Clock = std::chrono::steady_clock;
  struct Done {
    int slot;
    DeliveryResult result;
  };

  AppClient(int port, int slots);
  ~AppClient();
  AppClient(const AppClient&) = delete;
  AppClient& operator=(const AppClient&) = delete;

  int slots() const { return static_cast<int>(slots_.size()); }
  bool busy(int slot) const;

  // Where to build the next request of `slot` (RequestBuilder); reused, so no allocation.
  std::string* request(int slot);
  // Sends the request built for `slot`, which must not be busy, over its kept-alive connection
  // or a new one. A kept-alive connection the app closed while idle is retried once on a fresh
  // one. What fails at once (refused) lands in `done` at once.
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
  struct Slot;
  void send(int index, std::vector<Done>* done);
  void receive(int index, std::vector<Done>* done);
  void finish(int index, DeliveryResult result, bool keep, std::vector<Done>* done);
  // Closes the connection; a request on it is retried once when the app may have closed it
  // while idle (reused, nothing answered), else it fails with `detail`.
  void broken(int index, const std::string& detail, std::vector<Done>* done);
  bool connect(int index, std::vector<Done>* done);
  void watch(int index, bool writable);
  void close(int index);

  int port_;
  int epoll_ = -1;
  int wakeFd_ = -1;
  std::vector<std::unique_ptr<Slot>> slots_;
};

// Builds a POST into a reused string: begin(), header()..., end(body).
class RequestBuilder {
 public:
  explicit RequestBuilder(std::string* out) : out_(out) {}
  void begin(std::string_view path, int port, size_t bodySize);
  // The value's CR, LF and NUL become spaces (they would end the header).
  void header(std::string_view name, std::string_view value);
  void end(std::string_view body);

 private:
  std::string* out_;
};

// A name a header can have (no spaces, colons or control characters).
bool validHeaderName(std::string_view name);

}  // namespace osmosis::sidecar
