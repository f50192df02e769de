#pragma once

// Credentials out of text before it is logged, put in an Event or status, or published. Pure.
//
// NATS URLs may carry a user and password or a token ("nats://user:pw@host",
// "nats://token@host"); they leaked into logs, Events, status and reports (issue 16, item 9).

#include <string>
#include <string_view>

namespace osmosis {

inline constexpr const char* kRedacted = "REDACTED";

// "nats://user:pw@host:4222" -> "nats://REDACTED@host:4222"; also without a scheme
// ("user:pw@host:4222"). A URL without credentials comes back unchanged.
std::string redactUrl(std::string_view url);

// Every "scheme://userinfo@" inside free text (an error message, a comma-separated list) with
// its userinfo replaced.
std::string redactCredentials(std::string_view text);

bool hasUserinfo(std::string_view url);
// The URL without its userinfo ("nats://user:pw@host" -> "nats://host").
std::string withoutUserinfo(std::string_view url);

}  // namespace osmosis
