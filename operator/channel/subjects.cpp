#include "operator/channel/subjects.hpp"

#include <sstream>

namespace osmosis::channel {
namespace {

std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  std::string t;
  std::istringstream in(s);
  while (std::getline(in, t, '.'))
    out.push_back(t);
  if (!s.empty() && s.back() == '.') out.emplace_back();
  return out;
}

}  // namespace

std::optional<std::string> subjectProblem(const std::string& subject) {
  if (subject.empty()) return "a subject cannot be empty";
  for (char c : subject) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      return "a subject cannot contain whitespace";
  }
  auto toks = tokens(subject);
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto& t = toks[i];
    if (t.empty()) return "empty token (two dots in a row, or a dot at either end)";
    if (t.find_first_of("*>") != std::string::npos && t.size() > 1) {
      return "wildcards '*' and '>' must be whole tokens (\"" + t + "\")";
    }
    if (t == ">" && i + 1 != toks.size()) return "'>' may only be the last token";
  }
  return std::nullopt;
}

bool subjectsOverlap(const std::string& a, const std::string& b) {
  auto ta = tokens(a), tb = tokens(b);
  size_t i = 0;
  for (; i < ta.size() && i < tb.size(); ++i) {
    if (ta[i] == ">" || tb[i] == ">") return true;
    if (ta[i] == "*" || tb[i] == "*") continue;
    if (ta[i] != tb[i]) return false;
  }
  return ta.size() == tb.size();
}

bool subjectCovers(const std::string& pattern, const std::string& subject) {
  auto tp = tokens(pattern), ts = tokens(subject);
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

}  // namespace osmosis::channel
