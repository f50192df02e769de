#pragma once

// NATS subject rules, pure: syntax, and whether two subject patterns can match one subject.

#include <optional>
#include <string>
#include <vector>

namespace osmosis::channel {

// nullopt if valid; otherwise why not. Tokens are separated by '.', none empty; '*' and '>'
// stand alone as a token; '>' only last; no whitespace.
std::optional<std::string> subjectProblem(const std::string& subject);

// Can some concrete subject match both patterns? ("a.*" and "a.b" overlap; "a.b" and "a.c" do not.)
bool subjectsOverlap(const std::string& a, const std::string& b);

// Does `pattern` match every subject that `subject` matches (or the literal subject)?
bool subjectCovers(const std::string& pattern, const std::string& subject);

}  // namespace osmosis::channel
