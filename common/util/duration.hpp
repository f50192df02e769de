#pragma once

// Go-style durations ("250ms", "30s", "1m30s", "24h"), the format Kubernetes users and the
// NATS tools already write.

#include <chrono>
#include <string>
#include <string_view>

#include "common/util/result.hpp"

namespace osmosis {

// Parses a non-negative duration; "0" alone is accepted. Units: ns, us, ms, s, m, h. Anything
// that does not fit in int64 nanoseconds (about 292 years) is refused, never wrapped.
Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

// The same, and within [min, max]: every duration from outside (a flag, a Channel field) has a
// consumer with a range (an int32 of seconds, a timer, a NATS field), and is checked against
// it here, when it is read, rather than overflowing where it is used.
Result<std::chrono::nanoseconds> parseDurationWithin(std::string_view text,
                                                     std::chrono::nanoseconds min,
                                                     std::chrono::nanoseconds max);

// Formats the shortest Go-style form, e.g. 90s -> "1m30s", 250ms -> "250ms".
std::string formatDuration(std::chrono::nanoseconds d);

}  // namespace osmosis
