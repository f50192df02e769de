#pragma once

// A small HTTP/1.1 server on plain sockets: one thread per connection, keep-alive, bodies by
// Content-Length. Enough for /healthz, /readyz, /metrics and for test apps, without a thread
// pool or an async runtime (the sidecar's memory budget is 16 MB).

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/util/result.hpp"

namespace osmosis::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string target;  // path and query as sent
  HeaderList headers;
  std::string body;
  // Case-insensitive lookup; empty when absent.
  std::string header(std::string_view name) const;
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct Response {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  HeaderList headers;
};

const char* reasonPhrase(int status);

// Splits "host:port" (host may be empty or "0.0.0.0" for every interface). Port 0 is allowed.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& address);

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  // Binds host:port (port 0: an ephemeral port, see port()) and starts serving.
  static Result<std::unique_ptr<Server>> start(const std::string& host, int port, Handler handler);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  // Stops accepting, closes every connection, joins every thread.
  void stop();

 private:
  struct Conn {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  Server(int fd, int port, Handler handler);
  void acceptLoop();
  void serve(Conn* conn);
  void reap(bool all);

  int listenFd_;
  int port_;
  int wakeFd_[2] = {-1, -1};
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread acceptThread_;
  std::mutex mu_;
  std::list<Conn> conns_;
};

}  // namespace osmosis::http
