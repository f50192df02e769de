#include "common/log/logger.hpp"

#include <ctime>
#include <iostream>

namespace osmosis::log {

std::optional<Level> parseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

const char* levelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count() % 1000;
  if (ms < 0) ms += 1000;
  std::time_t secs = system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string formatLine(Level level, std::chrono::system_clock::time_point time,
                       std::string_view msg, const Fields& fields) {
  nlohmann::ordered_json line;
  line["time"] = formatTime(time);
  line["level"] = levelName(level);
  line["msg"] = std::string(msg);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (key == "time" || key == "level" || key == "msg") {
        line["field." + key] = value;
      } else {
        line[key] = value;
      }
    }
  } else if (!fields.is_null()) {
    line["fields"] = fields;
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Logger::Logger() : sink_(&std::cout), clock_([] { return std::chrono::system_clock::now(); }) {}

Logger& Logger::global() {
  static Logger* logger = new Logger();  // never destroyed: usable from any thread at exit
  return *logger;
}

void Logger::setLevel(Level level) {
  level_.store(level, std::memory_order_relaxed);
}

Level Logger::level() const {
  return level_.load(std::memory_order_relaxed);
}

void Logger::setSink(std::ostream* sink) {
  std::lock_guard lock(mu_);
  sink_ = sink ? sink : &std::cout;
}

void Logger::setClock(Clock clock) {
  std::lock_guard lock(mu_);
  clock_ = std::move(clock);
}

void Logger::write(Level level, std::string_view msg, const Fields& fields) {
  if (!enabled(level)) return;
  std::lock_guard lock(mu_);
  std::string line = formatLine(level, clock_(), msg, fields);
  line.push_back('\n');
  sink_->write(line.data(), static_cast<std::streamsize>(line.size()));
  sink_->flush();
}

}  // namespace osmosis::log
