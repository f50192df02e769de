#pragma once

// A blocking HTTP/1.1 client for one keep-alive connection to the app on 127.0.0.1. One per
// dispatch worker; not thread-safe. While waiting for the answer it calls `tick` every
// `tickEvery` (the worker sends in-progress from there, and may abort).

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/dispatch/outcome.hpp"

namespace osmosis::sidecar {

class HttpClient {
 public:
  using Clock = std::chrono::steady_clock;
  using HeaderList = std::vector<std::pair<std::string, std::string>>;
  // Returns false to abandon the request (the result is then kAborted).
  using Tick = std::function<bool()>;

  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  DeliveryResult post(const std::string& path, const HeaderList& headers, std::string_view body,
                      Clock::time_point deadline, std::chrono::milliseconds tickEvery,
                      const Tick& tick);

  // True when something accepts connections on the port (opens and closes one).
  static bool reachable(int port);

 private:
  enum class Io { kOk, kClosed, kTimeout, kAborted, kError };
  DeliveryResult attempt(const std::string& request, Clock::time_point deadline,
                         std::chrono::milliseconds tickEvery, const Tick& tick, bool* retry);
  Io readMore(Clock::time_point deadline, std::chrono::milliseconds tickEvery, const Tick& tick);
  void close();

  int port_;
  int fd_ = -1;
  bool reused_ = false;
  std::string buf_;
};

// Header names are case-insensitive; values must not carry CR/LF (those are replaced).
std::string sanitizeHeaderValue(std::string_view value);
bool validHeaderName(std::string_view name);

}  // namespace osmosis::sidecar
