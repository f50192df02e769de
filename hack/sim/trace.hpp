#pragma once

// A trace and the model it runs under. A trace file is CSV `seconds,arrivals_per_second`: each
// row's rate holds from its time until the next row's; the trace ends one second after the
// last row. Lines starting with `#` are comments; `# model: key=value ...` lines set model
// parameters for this trace (the command line overrides them). A header row is allowed.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/util/result.hpp"

namespace osmosis::sim {

// How long one message takes a handler, as the pods see it.
enum class HandlerTimes { kConstant, kLognormal, kPareto };

struct Model {
  double perPodRate = 50;  // messages/s one pod handles at capacity (mean)
  int concurrency = 4;     // messages a pod handles at once (its in-flight at capacity)
  HandlerTimes handler = HandlerTimes::kConstant;
  double handlerShape = 1.5;   // lognormal: sigma; pareto: alpha (> 1, so the mean exists)
  double startupSeconds = 10;  // asked for -> ready and reporting
  int maxReplicas = 50;
  double reportInterval = 1;  // seconds between a sidecar's reports
  uint64_t seed = 1;          // the handler-time draws (deterministic)
};

struct Trace {
  std::string name;
  std::vector<double> rates;  // arrivals/s of each second
  double duration() const { return static_cast<double>(rates.size()); }
  double rateAt(double t) const;
};

// Applies `key=value` to the model; kInvalidArgument names the bad key or value.
Status applyModelSetting(Model& model, const std::string& key, const std::string& value);

// Reads a trace file; `model` gets the file's `# model:` settings.
Result<Trace> readTrace(const std::string& path, Model& model);

}  // namespace osmosis::sim
