#pragma once

// NATS subject grammar, pure, shared by every binary (one rule, not one per parser).
//
// A subject is tokens separated by '.'; no token is empty. A literal token is made of
// letters, digits and - _ ~ = + @ % $ / # only: no quotes, brackets, braces, commas, colons,
// backslashes, spaces, control or non-ASCII bytes. Those are what let a subject break out of
// the JSON of a JetStream API request (issue 16) or a header line, and no real subject needs
// them. Wildcards, where allowed: '*' is a whole token, '>' a whole last token.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osmosis::nats {

inline constexpr size_t kMaxSubjectLength = 255;

enum class Wildcards { kAllowed, kForbidden };

// nullopt when valid, else why not (a sentence a user can act on).
std::optional<std::string> subjectProblem(std::string_view subject,
                                          Wildcards wildcards = Wildcards::kAllowed);

// One literal token (a namespace, a channel or a stream name inside a subject).
std::optional<std::string> tokenProblem(std::string_view token);

std::vector<std::string_view> subjectTokens(std::string_view subject);

// Can some concrete subject match both patterns? ("a.*" and "a.b" overlap; "a.b" and "a.c" do not.)
bool subjectsOverlap(std::string_view a, std::string_view b);
// The same on subjects already split by subjectTokens() (for comparing many pairs).
bool tokensOverlap(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b);

// Does `pattern` match every subject that `subject` matches (or the literal subject)?
bool subjectCovers(std::string_view pattern, std::string_view subject);

}  // namespace osmosis::nats
