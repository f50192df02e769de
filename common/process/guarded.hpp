#pragma once

// A thread's body with a last line of defence: an exception that escapes it (a bug: expected
// failures are values) is logged with the thread's name and ends the process with exit code 1,
// so the kubelet restarts it, instead of std::terminate's silent abort. Loops that can go on
// after one bad item catch per item themselves; this is for what they did not foresee.

#include <cstdlib>
#include <exception>

#include "common/log/logger.hpp"

namespace osmosis {

template <typename Fn>
void guarded(const char* thread, Fn&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    log::error("thread failed; exiting", {{"thread", thread}, {"error", e.what()}});
    std::_Exit(1);
  } catch (...) {
    log::error("thread failed; exiting", {{"thread", thread}, {"error", "unknown exception"}});
    std::_Exit(1);
  }
}

}  // namespace osmosis
