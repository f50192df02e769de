#include "common/nats/headers.hpp"

#include <cstdint>
#include <cstring>

#include "common/util/text.hpp"

namespace osmosis::nats {
namespace {

constexpr std::string_view kPrefix = "NATS/1.0";

bool keyChar(char c) {
  // RFC 7230 token characters.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// libnats 3.4's `struct __natsMsg` (src/msg.h), mirrored only to find the raw header bytes,
// which libnats has no accessor for. Read with memcpy, never written; every field used is
// cross-checked against a public accessor first, so a different layout is detected and
// libnats' own parser used instead.
struct MsgLayout {
  void* gcNext;
  void* gcFree;
  const char* subject;
  const char* reply;
  const char* hdr;
  void* headers;
  const char* data;
  int dataLen;
  int hdrLen;
  int wsz;
  int flags;
  uint64_t seq;
  int64_t time;
  void* sub;
  void* next;
};

}  // namespace

std::optional<HeaderBlock> parseHeaderBlock(std::string_view block) {
  if (block.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  HeaderBlock out;
  size_t pos = block.find('\n');
  out.status = std::string(trimBlanks(block.substr(
      kPrefix.size(), pos == std::string_view::npos ? block.npos : pos - kPrefix.size())));
  if (!out.status.empty() && out.status.back() == '\r') out.status.pop_back();
  while (pos != std::string_view::npos && pos + 1 < block.size()) {
    const size_t start = pos + 1;
    pos = block.find('\n', start);
    std::string_view line =
        block.substr(start, pos == std::string_view::npos ? block.npos : pos - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // the blank line that ends the block
    const size_t colon = line.find(':');
    std::string_view key = line.substr(0, colon == std::string_view::npos ? 0 : colon);
    bool ok = colon != std::string_view::npos && !key.empty();
    for (char c : key)
      ok = ok && keyChar(c);
    std::string_view value = ok ? trimBlanks(line.substr(colon + 1)) : std::string_view();
    for (char c : value)
      ok = ok && (static_cast<unsigned char>(c) >= 0x20 || c == '\t') && c != 0x7f;
    if (!ok) {
      ++out.malformed;
      continue;
    }
    out.headers.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

std::optional<std::string_view> rawHeaderBlock(const natsMsg* msg) {
  if (msg == nullptr) return std::nullopt;
  MsgLayout m;
  std::memcpy(&m, msg, sizeof m);
  auto* mutableMsg = const_cast<natsMsg*>(msg);  // (the accessors take non-const)
  if (m.subject != natsMsg_GetSubject(mutableMsg) || m.data != natsMsg_GetData(mutableMsg) ||
      m.dataLen != natsMsg_GetDataLength(mutableMsg))
    return std::nullopt;
  if (m.hdr == nullptr || m.hdrLen < static_cast<int>(kPrefix.size()) ||
      m.hdr + m.hdrLen + 1 != m.data || m.hdr[m.hdrLen] != '\0')
    return std::nullopt;
  std::string_view block(m.hdr, static_cast<size_t>(m.hdrLen));
  // libnats writes NULs into the block when it parses it itself (it did, for a status
  // message): then its parsed headers are the ones to use.
  if (block.find('\0') != std::string_view::npos) return std::nullopt;
  return block;
}

}  // namespace osmosis::nats
