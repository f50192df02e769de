#pragma once

// Structured logging: one JSON object per line on stdout, e.g.
//   {"time":"2026-11-23T19:02:10.123Z","level":"info","msg":"connected","url":"nats://..."}
// Fields are flattened into the object; a field that would shadow time/level/msg is
// written as "field.<name>" instead.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace osmosis::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::optional<Level> parseLevel(std::string_view name);
const char* levelName(Level level);

using Fields = nlohmann::json;  // a JSON object (or null for none)
using Clock = std::function<std::chrono::system_clock::time_point()>;

// Pure: renders one log line (without the trailing newline). Never throws, also not on
// invalid UTF-8 in the message or fields (it is replaced).
std::string formatLine(Level level, std::chrono::system_clock::time_point time,
                       std::string_view msg, const Fields& fields);

// RFC 3339 UTC with milliseconds.
std::string formatTime(std::chrono::system_clock::time_point time);

class Logger {
 public:
  static Logger& global();

  void setLevel(Level level);
  Level level() const;
  bool enabled(Level level) const { return level >= level_.load(std::memory_order_relaxed); }
  // For tests: where lines go (default std::cout) and what time it is.
  void setSink(std::ostream* sink);
  void setClock(Clock clock);

  void write(Level level, std::string_view msg, const Fields& fields = {});

 private:
  Logger();
  mutable std::mutex mu_;
  std::atomic<Level> level_{Level::kInfo};
  std::ostream* sink_;
  Clock clock_;
};

inline void debug(std::string_view msg, const Fields& fields = {}) {
  if (Logger::global().enabled(Level::kDebug)) Logger::global().write(Level::kDebug, msg, fields);
}
inline void info(std::string_view msg, const Fields& fields = {}) {
  Logger::global().write(Level::kInfo, msg, fields);
}
inline void warn(std::string_view msg, const Fields& fields = {}) {
  Logger::global().write(Level::kWarn, msg, fields);
}
inline void error(std::string_view msg, const Fields& fields = {}) {
  Logger::global().write(Level::kError, msg, fields);
}

}  // namespace osmosis::log
