#pragma once

// Small pure text helpers shared by the header parsers (NATS and HTTP headers alike).

#include <string_view>

namespace osmosis {

// Without leading and trailing spaces and tabs (HTTP's OWS; NATS header values the same).
inline std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace osmosis
