#pragma once

// The path part of an HTTP request target, as the sidecar sends it to the app. Pure.

#include <optional>
#include <string>
#include <string_view>

namespace osmosis::http {

inline constexpr size_t kMaxPathLength = 1024;

// nullopt when `path` is an absolute path (with an optional query) made only of the characters
// RFC 3986 allows there; else why not. No spaces, CR, LF, control or non-ASCII bytes: those
// would end or split the request line (issue 16, item 18).
std::optional<std::string> pathProblem(std::string_view path);

}  // namespace osmosis::http
