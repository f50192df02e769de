#pragma once

// SIGTERM/SIGINT handling without async-signal-unsafe work: the signals are blocked in every
// thread and one thread takes them with sigwait, then wakes whoever waits here.
// A second signal while shutting down exits at once (exit code 130), as users expect of Ctrl-C.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace osmosis {

class ShutdownSignal {
 public:
  // Call first thing in main(), before any thread starts, so all threads inherit the mask.
  static ShutdownSignal& install();

  bool requested() const { return requested_.load(); }
  // The signal that asked for shutdown (0 when requested programmatically or not yet).
  int signal() const { return signal_.load(); }
  // Waits until shutdown is requested or the timeout passes; true when requested.
  bool waitFor(std::chrono::milliseconds timeout);
  void wait();
  // Asks for shutdown from inside the program (e.g. a fatal error in a worker thread).
  void request(int sig = 0);

 private:
  ShutdownSignal() = default;
  void run();
  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace osmosis
