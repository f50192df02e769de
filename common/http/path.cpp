#include "common/http/path.hpp"

#include <cctype>
#include <cstring>

namespace osmosis::http {

std::optional<std::string> pathProblem(std::string_view path) {
  if (path.empty() || path.front() != '/') return "must start with '/'";
  if (path.size() > kMaxPathLength)
    return "is longer than " + std::to_string(kMaxPathLength) + " characters";
  // unreserved / pct-encoded / sub-delims / ':' / '@' / '/' / '?'
  static const char* const kAllowed = "-._~!$&'()*+,;=:@/?%";
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '%') {
      auto hex = [&](size_t j) {
        return j < path.size() && std::isxdigit(static_cast<unsigned char>(path[j]));
      };
      if (!hex(i + 1) || !hex(i + 2))
        return "has a '%' at position " + std::to_string(i) + " not followed by two hex digits";
      continue;
    }
    if (alnum || (c != '\0' && std::strchr(kAllowed, c) != nullptr)) continue;
    return "has a character not allowed in a URL path at position " + std::to_string(i) +
           " (spaces and other characters must be %-encoded)";
  }
  return std::nullopt;
}

}  // namespace osmosis::http
