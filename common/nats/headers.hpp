#pragma once

// NATS message headers, read tolerantly.
//
// libnats 3.4.1 gives up on a whole header block when one line is odd: an empty value
// ("X-Empty:") or a line without a colon made every header of the message vanish, Content-Type
// and ids included, without a word (issue 16, item 16). Here each line stands alone: good
// lines are kept, odd ones are counted and skipped, and the caller logs the count.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nats/nats.h>

namespace osmosis::nats {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HeaderBlock {
  std::string status;  // after "NATS/1.0", e.g. "503" or "" for an ordinary message
  Headers headers;     // in order; repeated keys stay repeated; empty values allowed
  int malformed = 0;   // lines skipped (no colon, bad key, control bytes)
};

// Pure: a header block as sent on the wire ("NATS/1.0\r\nKey: value\r\n...\r\n\r\n").
// Returns nullopt when it does not start with "NATS/1.0".
std::optional<HeaderBlock> parseHeaderBlock(std::string_view block);

// The raw header block of a received message, when it can be had safely; nullopt otherwise
// (no headers, or a libnats whose message layout is not the one known: then use libnats').
std::optional<std::string_view> rawHeaderBlock(const natsMsg* msg);

}  // namespace osmosis::nats
