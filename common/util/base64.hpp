#pragma once

// Standard base64 (RFC 4648 section 4, with padding), as JetStream's API uses for stored
// messages and the gateway's results use for bodies that are not UTF-8.

#include <optional>
#include <string>
#include <string_view>

namespace osmosis {

std::string base64Encode(std::string_view bytes);
// nullopt when `text` is not valid padded base64.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace osmosis
