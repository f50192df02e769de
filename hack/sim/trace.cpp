#include "hack/sim/trace.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

namespace osmosis::sim {
namespace {

Error invalid(const std::string& what) {
  return makeError(Error::Code::kInvalidArgument, what);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// A whole-string number, or nothing (no partial parses: "5x" is an error, not 5).
bool parseNumber(const std::string& text, double& out) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  size_t used = 0;
  try {
    out = std::stod(t, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == t.size() && std::isfinite(out);
}

std::string baseName(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

double Trace::rateAt(double t) const {
  if (t < 0 || rates.empty()) return 0;
  const auto i = static_cast<size_t>(std::floor(t + 1e-9));  // (t is a sum of 0.1 s steps)
  return i < rates.size() ? rates[i] : 0;
}

Status applyModelSetting(Model& m, const std::string& key, const std::string& value) {
  double v = 0;
  const bool number = parseNumber(value, v);
  const auto bad = [&](const char* rule) { return invalid(key + "=" + value + ": " + rule); };
  if (key == "handler") {
    if (value == "constant")
      m.handler = HandlerTimes::kConstant;
    else if (value == "lognormal")
      m.handler = HandlerTimes::kLognormal;
    else if (value == "pareto")
      m.handler = HandlerTimes::kPareto;
    else
      return bad("one of constant, lognormal, pareto");
    return {};
  }
  if (!number) return bad("not a number");
  if (key == "rate") {
    if (v <= 0) return bad("must be > 0");
    m.perPodRate = v;
  } else if (key == "concurrency") {
    if (v < 1 || v != std::floor(v) || v > 10000) return bad("an integer within 1..10000");
    m.concurrency = static_cast<int>(v);
  } else if (key == "shape") {
    if (v <= 0) return bad("must be > 0");
    m.handlerShape = v;
  } else if (key == "startup") {
    if (v < 0) return bad("must be >= 0");
    m.startupSeconds = v;
  } else if (key == "max") {
    if (v < 1 || v != std::floor(v) || v > 100000) return bad("an integer within 1..100000");
    m.maxReplicas = static_cast<int>(v);
  } else if (key == "report") {
    if (v <= 0 || v > 60) return bad("within (0, 60] seconds");
    m.reportInterval = v;
  } else if (key == "seed") {
    if (v < 0 || v != std::floor(v)) return bad("an integer >= 0");
    m.seed = static_cast<uint64_t>(v);
  } else {
    return invalid("unknown model setting " + key +
                   " (rate, concurrency, handler, shape, startup, max, report, seed)");
  }
  if (m.handler == HandlerTimes::kPareto && m.handlerShape <= 1)
    return invalid("pareto handler times need shape (alpha) > 1 for a finite mean");
  return {};
}

Result<Trace> readTrace(const std::string& path, Model& model) {
  std::ifstream in(path);
  if (!in) return invalid("cannot read trace " + path);
  Trace trace;
  trace.name = baseName(path);
  std::vector<std::pair<double, double>> rows;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    const std::string where = path + ":" + std::to_string(lineNo) + ": ";
    line = trim(line);
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string word;
      if (!(words >> word) || word != "model:") continue;
      while (words >> word) {
        const auto eq = word.find('=');
        if (eq == std::string::npos) return invalid(where + "expected key=value, got " + word);
        if (auto s = applyModelSetting(model, word.substr(0, eq), word.substr(eq + 1)); !s)
          return invalid(where + s.error().message);
      }
      continue;
    }
    const auto comma = line.find(',');
    double t = 0, rate = 0;
    if (comma == std::string::npos || !parseNumber(line.substr(0, comma), t) ||
        !parseNumber(line.substr(comma + 1), rate)) {
      if (rows.empty() && trace.rates.empty()) continue;  // the header row
      return invalid(where + "expected seconds,arrivals_per_second");
    }
    if (t < 0 || rate < 0) return invalid(where + "negative time or rate");
    if (!rows.empty() && t <= rows.back().first) return invalid(where + "times must rise");
    rows.emplace_back(t, rate);
  }
  if (rows.empty()) return invalid(path + ": no rows");
  if (rows.back().first > 7 * 24 * 3600) return invalid(path + ": longer than a week");
  const auto seconds = static_cast<size_t>(rows.back().first) + 1;
  trace.rates.assign(seconds, 0);
  size_t row = 0;
  for (size_t s = 0; s < seconds; ++s) {
    while (row + 1 < rows.size() && rows[row + 1].first <= static_cast<double>(s))
      ++row;
    trace.rates[s] = static_cast<double>(s) >= rows[row].first ? rows[row].second : 0;
  }
  return trace;
}

}  // namespace osmosis::sim
