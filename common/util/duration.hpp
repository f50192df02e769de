#pragma once

// Go-style durations ("250ms", "30s", "1m30s", "24h"), the format Kubernetes users and the
// NATS tools already write.

#include <chrono>
#include <string>
#include <string_view>

#include "common/util/result.hpp"

namespace osmosis {

// Parses a non-negative duration; "0" alone is accepted. Units: ns, us, ms, s, m, h.
Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

// Formats the shortest Go-style form, e.g. 90s -> "1m30s", 250ms -> "250ms".
std::string formatDuration(std::chrono::nanoseconds d);

}  // namespace osmosis
