#pragma once

// The gateway's view of NATS (a seam: unit tests fake it; nats_bus.* is the real one).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::gateway {

class Bus {
 public:
  virtual ~Bus() = default;
  // A JetStream publish, waiting for the stream's acknowledgement.
  virtual Result<nats::PublishAck> publish(const std::string& subject, std::string_view body,
                                           const nats::Headers& headers,
                                           const std::string& msgId) = 0;
  // The same without waiting: the outcome goes to `done`, on another thread or at once. By
  // default the publish above (a fake's way).
  virtual void publishAsync(const std::string& subject, std::string_view body,
                            const nats::Headers& headers, const std::string& msgId,
                            std::function<void(Result<nats::PublishAck>)> done) {
    done(publish(subject, body, headers, msgId));
  }
  // Messages waiting in the channel (consumer pending + ack pending); may be a second old.
  virtual Result<int64_t> backlog(const std::string& stream, const std::string& consumer) = 0;
  // The backlog when it was read less than a second ago (no waiting); nullopt otherwise.
  virtual std::optional<int64_t> cachedBacklog(const std::string&, const std::string&) {
    return std::nullopt;
  }
  virtual Result<std::optional<nats::StoredMessage>> next(const std::string& stream,
                                                          const std::string& subject,
                                                          uint64_t fromSequence) = 0;
  virtual Result<std::optional<nats::StoredMessage>> last(const std::string& stream,
                                                          const std::string& subject) = 0;
  // The stream's first sequence still stored (to tell a client its history is gone).
  virtual Result<uint64_t> firstSequence(const std::string& stream) = 0;
  // Every new message of `stream` from now on, in order, until the handle is dropped.
  virtual Result<std::shared_ptr<void>> follow(
      const std::string& stream, const std::string& filterSubject,
      std::function<void(nats::StoredMessage)> onMessage) = 0;
  // Core NATS messages on `subject` (broadcasts), until the handle is dropped.
  virtual Result<std::shared_ptr<void>> subscribe(const std::string& subject,
                                                  std::function<void(std::string)> onData) = 0;
  virtual bool connected() const = 0;
};

}  // namespace osmosis::gateway
