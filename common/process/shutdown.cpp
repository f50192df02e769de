#include "common/process/shutdown.hpp"

#include <csignal>
#include <cstdlib>
#include <thread>

#include "common/log/logger.hpp"

namespace osmosis {
namespace {

sigset_t shutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

ShutdownSignal& ShutdownSignal::install() {
  static ShutdownSignal* instance = [] {
    auto* s = new ShutdownSignal();  // lives for the whole process
    sigset_t set = shutdownSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // A closed pipe must be an error return, not a dead process.
    std::signal(SIGPIPE, SIG_IGN);
    std::thread([s] { s->run(); }).detach();
    return s;
  }();
  return *instance;
}

void ShutdownSignal::run() {
  sigset_t set = shutdownSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (requested_.load()) {
      log::warn("second signal, exiting now", {{"signal", sig}});
      std::_Exit(130);
    }
    log::info("shutdown requested", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    request(sig);
  }
}

void ShutdownSignal::request(int sig) {
  {
    std::lock_guard lock(mu_);
    signal_.store(sig);
    requested_.store(true);
  }
  cv_.notify_all();
}

bool ShutdownSignal::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return requested_.load(); });
}

void ShutdownSignal::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return requested_.load(); });
}

}  // namespace osmosis
