#pragma once

#include <string_view>

#include <nats/nats.h>

#include "common/util/result.hpp"

namespace osmosis::nats {

// Turns a libnats status (and JetStream error code, when there is one) into an Error whose
// message says what was being done, what went wrong, and the library's own detail.
Error toError(natsStatus status, std::string_view doing,
              jsErrCode jsCode = static_cast<jsErrCode>(0));

}  // namespace osmosis::nats
