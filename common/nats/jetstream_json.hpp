#pragma once

// The JSON of the JetStream management API, built and read with nlohmann/json. Pure.
//
// Why not libnats' own: libnats 3.4.1 writes strings (subjects, names) into its request JSON
// without escaping, so a subject such as `a"],"sources":[...` turned a stream-create request
// into one that copied another namespace's stream (issue 16, item 1). Every request the
// operator sends with user-derived strings is built here, escaped by construction; every
// reply is parsed defensively (a malformed reply is an error, never a crash).

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

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
// The reply of $JS.API.STREAM.MSG.GET: {"message": {subject, seq, hdrs (base64), data (base64)}}.
Result<StoredMessage> parseStoredMessage(const nlohmann::json& reply);
Result<ConsumerInfo> parseConsumerInfo(const nlohmann::json& reply);

// The error code for a JetStream err_code (10059 stream not found, ...).
Error::Code codeForJetStreamError(int errCode, int httpCode);

}  // namespace osmosis::nats
