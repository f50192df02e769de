#pragma once

// The JSON of the JetStream management API, built and read with nlohmann/json. Pure.
//
// Why not libnats' own: libnats 3.4.1 writes strings (subjects, names) into its request JSON
// without escaping, so a subject such as `a"],"sources":[...` turned a stream-create request
// into one that copied another namespace's stream (issue 16, item 1). Every request the
// operator sends with user-derived strings is built here, escaped by construction; every
// reply is parsed defensively (a malformed reply is an error, never a crash).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

inline constexpr const char* kStreamListSubject = "$JS.API.STREAM.LIST";
// API subjects ($JS.API...). Names must already be valid NATS tokens.
std::string streamApiSubject(std::string_view verb, std::string_view stream);
std::string consumerApiSubject(std::string_view verb, std::string_view stream,
                               std::string_view consumer);

nlohmann::json toApiJson(const StreamConfig& config);
// The body of $JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>.
nlohmann::json toApiJson(const std::string& stream, const ConsumerConfig& config);

// A reply: the error it carries (code from err_code, message from description), or the object.
// `doing` starts the error message ("creating stream X").
Result<nlohmann::json> parseApiReply(std::string_view reply, std::string_view doing);

Result<StreamInfo> parseStreamInfo(const nlohmann::json& reply);
// One page of $JS.API.STREAM.LIST ({total, offset, limit, streams: [stream info...],
// missing: [names]}). A malformed entry fails the page: a list is read whole or not at all.
struct StreamPage {
  std::vector<StreamInfo> streams;
  uint64_t total = 0;                // streams in the account
  uint64_t offset = 0;               // of this page's first
  std::vector<std::string> missing;  // streams a clustered server could not answer for in time
};
Result<StreamPage> parseStreamPage(const nlohmann::json& reply);
// The reply of $JS.API.STREAM.MSG.GET: {"message": {subject, seq, hdrs (base64), data (base64)}}.
Result<StoredMessage> parseStoredMessage(const nlohmann::json& reply);
Result<ConsumerInfo> parseConsumerInfo(const nlohmann::json& reply);

// The error code for a JetStream err_code (10059 stream not found, ...).
Error::Code codeForJetStreamError(int errCode, int httpCode);

// How long to wait before asking again after `e`, the answer to attempt `attempt` (0 first),
// or nothing. Two answers are asked again, both of which a cluster gives while a leader hands
// over (a lame-duck server, an election):
// - "JetStream system temporarily unavailable" (10008), twice, after 250 and then 500 ms;
//   the request was not carried out, so asking again is safe for any call;
// - a timeout of a read, once and at once: the request went to a leader that was leaving,
//   and a new one answers within about a second. A write is not asked again: it may have
//   been carried out with its answer lost.
// The caller asks again only on a connection that is still up (a timeout while
// disconnected would only take the same time again).
std::optional<std::chrono::milliseconds> retryDelay(const Error& e, int attempt, ApiCall call);

}  // namespace osmosis::nats
