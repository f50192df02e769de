#include "common/util/redact.hpp"

namespace osmosis {
namespace {

// Where the authority of a URL starts (after "scheme://", or 0) and where it ends.
struct Authority {
  size_t begin = 0;
  size_t end = 0;
  size_t at = std::string_view::npos;  // the '@' ending the userinfo, if any
};

Authority authority(std::string_view url, size_t from) {
  Authority a;
  a.begin = from;
  a.end = url.find_first_of("/?#, \t\r\n\"'<>()[]{}", from);
  if (a.end == std::string_view::npos) a.end = url.size();
  // The last '@' in the authority ends the userinfo (a password may contain '@').
  const size_t at = url.substr(0, a.end).rfind('@');
  if (at != std::string_view::npos && at >= from) a.at = at;
  return a;
}

Authority urlAuthority(std::string_view url) {
  const size_t scheme = url.find("://");
  return authority(url, scheme == std::string_view::npos ? 0 : scheme + 3);
}

}  // namespace

bool hasUserinfo(std::string_view url) {
  return urlAuthority(url).at != std::string_view::npos;
}

std::string redactUrl(std::string_view url) {
  Authority a = urlAuthority(url);
  if (a.at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, a.begin)) + kRedacted + std::string(url.substr(a.at));
}

std::string withoutUserinfo(std::string_view url) {
  Authority a = urlAuthority(url);
  if (a.at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, a.begin)) + std::string(url.substr(a.at + 1));
}

std::string redactCredentials(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t scheme = text.find("://", pos);
    if (scheme == std::string_view::npos) break;
    Authority a = authority(text, scheme + 3);
    if (a.at == std::string_view::npos) {
      out.append(text.substr(pos, a.end - pos));
    } else {
      out.append(text.substr(pos, a.begin - pos));
      out.append(kRedacted);
      out.append(text.substr(a.at, a.end - a.at));
    }
    pos = a.end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace osmosis
