#pragma once

// JSON to text, and text from outside made safe for JSON. Pure.
//
// nlohmann::json::dump() throws on a string that is not valid UTF-8; a Secret's URL with a
// byte 0x80 in it reached an Event and killed the operator's event thread (issue 16, item 4).
// Everything here replaces invalid bytes instead of throwing.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace osmosis {

// dump() that never throws: invalid UTF-8 becomes U+FFFD.
std::string dumpJson(const nlohmann::json& value);

// Text from outside (a Secret, a server's error, a peer) made fit for a log line, an Event, a
// status message or a header: valid UTF-8, control characters as '?', at most `maxBytes`
// (cut on a character boundary, "..." included when cut).
std::string printableText(std::string_view text, size_t maxBytes = 1024);

}  // namespace osmosis
