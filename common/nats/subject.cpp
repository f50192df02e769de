#include "common/nats/subject.hpp"

namespace osmosis::nats {
namespace {

bool tokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '_':
    case '~':
    case '=':
    case '+':
    case '@':
    case '%':
    case '$':
    case '/':
    case '#':
      return true;
    default:
      return false;
  }
}

std::string shown(std::string_view s) {
  // Echo at most a little of a hostile input, and only its printable ASCII.
  std::string out;
  for (char c : s.substr(0, 64))
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

std::vector<std::string_view> subjectTokens(std::string_view subject) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

std::optional<std::string> tokenProblem(std::string_view token) {
  if (token.empty()) return "a subject token cannot be empty";
  for (char c : token) {
    if (!tokenChar(c))
      return "\"" + shown(token) +
             "\" has a character NATS subjects here may not have (allowed: letters, digits "
             "and - _ ~ = + @ % $ / #)";
  }
  return std::nullopt;
}

std::optional<std::string> subjectProblem(std::string_view subject, Wildcards wildcards) {
  if (subject.empty()) return "a subject cannot be empty";
  if (subject.size() > kMaxSubjectLength)
    return "a subject is at most " + std::to_string(kMaxSubjectLength) + " characters long";
  auto toks = subjectTokens(subject);
  for (size_t i = 0; i < toks.size(); ++i) {
    std::string_view t = toks[i];
    if (t.empty()) return "empty token (two dots in a row, or a dot at either end)";
    if (t == "*" || t == ">") {
      if (wildcards == Wildcards::kForbidden)
        return "must be a concrete subject (no wildcards '*' or '>')";
      if (t == ">" && i + 1 != toks.size()) return "'>' may only be the last token";
      continue;
    }
    if (t.find_first_of("*>") != std::string_view::npos)
      return "wildcards '*' and '>' must be whole tokens (\"" + shown(t) + "\")";
    if (auto why = tokenProblem(t)) return why;
  }
  return std::nullopt;
}

bool subjectsOverlap(std::string_view a, std::string_view b) {
  return tokensOverlap(subjectTokens(a), subjectTokens(b));
}

bool tokensOverlap(const std::vector<std::string_view>& ta,
                   const std::vector<std::string_view>& tb) {
  size_t i = 0;
  for (; i < ta.size() && i < tb.size(); ++i) {
    if (ta[i] == ">" || tb[i] == ">") return true;
    if (ta[i] == "*" || tb[i] == "*") continue;
    if (ta[i] != tb[i]) return false;
  }
  return ta.size() == tb.size();
}

bool subjectCovers(std::string_view pattern, std::string_view subject) {
  auto tp = subjectTokens(pattern), ts = subjectTokens(subject);
  for (size_t i = 0; i < tp.size(); ++i) {
    if (tp[i] == ">") return i < ts.size();
    if (i >= ts.size()) return false;
    if (tp[i] == "*") {
      if (ts[i] == ">") return false;
      continue;
    }
    if (tp[i] != ts[i]) return false;
  }
  return tp.size() == ts.size();
}

}  // namespace osmosis::nats
