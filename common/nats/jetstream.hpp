#pragma once

// The slice of JetStream that Osmosis needs: streams and durable pull consumers, publish,
// and the consumer figures (pending, ack-pending) that backlog is made of.
// Plain structs in, plain structs out, so the callers (reconcilers, the sidecar) never touch
// libnats types.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream_types.hpp"
#include "common/nats/leader_memory.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

// A message delivered by a pull consumer. Owns the libnats message.
class Message {
 public:
  Message(natsMsg* msg, std::shared_ptr<Connection> conn);
  ~Message();
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  std::string subject() const;
  std::string_view data() const;
  Headers headers() const;
  uint64_t streamSequence() const { return streamSequence_; }
  uint64_t deliveryCount() const { return deliveryCount_; }
  // The consumer's num_pending when the server sent this message (from its reply subject).
  uint64_t numPending() const { return numPending_; }

  Status ack();
  // Waits for the server to confirm the ack (at-least-once made as strong as it gets).
  Status ackSync();
  Status nak();
  Status nakWithDelay(std::chrono::milliseconds delay);
  Status inProgress();
  Status term();
  // The same, sent through `via` rather than the connection the message came on: a plain
  // publish of the JetStream ack protocol ("+ACK", "-NAK", "+WPI", "+TERM") to the message's
  // reply subject, which is what libnats does. Lets a subscription live on a connection that
  // writes each publish at once (pull requests) while its acks are buffered on another.
  Status ack(Connection& via);
  Status nak(Connection& via);
  Status nakWithDelay(std::chrono::milliseconds delay, Connection& via);
  Status inProgress(Connection& via);
  Status term(Connection& via);

 private:
  natsMsg* msg_ = nullptr;
  std::shared_ptr<Connection> conn_;
  uint64_t streamSequence_ = 0;
  uint64_t deliveryCount_ = 0;
  uint64_t numPending_ = 0;
};

class PullSubscription {
 public:
  PullSubscription(natsSubscription* sub, std::shared_ptr<Connection> conn);
  ~PullSubscription();
  PullSubscription(PullSubscription&& other) noexcept;
  PullSubscription(const PullSubscription&) = delete;
  PullSubscription& operator=(const PullSubscription&) = delete;
  PullSubscription& operator=(PullSubscription&&) = delete;

  // Up to `batch` messages, waiting at most `timeout` for the first. An empty vector means
  // none arrived in time. Keeps its own deadline: libnats 3.4 can return NATS_TIMEOUT early
  // on repeated calls (nats.c #631: a late 408 for an earlier request ends the current one),
  // so after an early timeout it waits for what its own pull request, still open at the
  // server, brings, until the deadline, without asking again: when fetch returns, no request
  // of its own is left open to deliver into a caller that is busy.
  Result<std::vector<Message>> fetch(int batch, std::chrono::milliseconds timeout);
  // The subject the server delivers to (an inbox; for tests and diagnostics).
  std::string deliverSubject() const;
  // Drops interest now (pull requests still open at the server then get nothing); the
  // subscription object stays valid for the messages pulled from it. Also done on destruction.
  Status unsubscribe();

 private:
  natsSubscription* sub_;
  std::shared_ptr<Connection> conn_;
};

class JetStream {
 public:
  // apiTimeout bounds every JetStream API request.
  static Result<JetStream> create(std::shared_ptr<Connection> conn,
                                  std::chrono::milliseconds apiTimeout = std::chrono::seconds(5));
  ~JetStream();
  JetStream(JetStream&& other) noexcept;
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;
  JetStream& operator=(JetStream&&) = delete;

  Result<StreamInfo> addStream(const StreamConfig& config);
  Result<StreamInfo> updateStream(const StreamConfig& config);
  Result<StreamInfo> streamInfo(const std::string& name);
  Status deleteStream(const std::string& name);
  // Every stream of the account with its state ($JS.API.STREAM.LIST, page after page): one
  // call instead of one INFO per stream. Streams a clustered server left out ("missing") are
  // not in it.
  Result<std::vector<StreamInfo>> listStreams();

  // Creates the durable consumer, or updates it when it exists (the server refuses changes
  // to immutable fields with an InvalidArgument/Conflict error).
  Result<ConsumerInfo> addOrUpdateConsumer(const std::string& stream, const ConsumerConfig& config);
  Result<ConsumerInfo> consumerInfo(const std::string& stream, const std::string& consumer);
  Status deleteConsumer(const std::string& stream, const std::string& consumer);

  // Publishes and waits for the stream's ack; returns the stream sequence. A msgId makes the
  // publish idempotent inside the stream's duplicate window.
  Result<uint64_t> publish(const std::string& subject, std::string_view data,
                           const std::string& msgId = "", const Headers& headers = {});

  // The same, with the whole acknowledgement. A refusal keeps the server's JetStream error code
  // in Error::reason (e.g. "10077": the stream is full and discards new messages).
  Result<PublishAck> publishAck(const std::string& subject, std::string_view data,
                                const std::string& msgId = "", const Headers& headers = {});

  // The first message on `subject` at or after `fromSequence`; nullopt when there is none.
  Result<std::optional<StoredMessage>> nextMessage(const std::string& stream,
                                                   const std::string& subject,
                                                   uint64_t fromSequence);
  // The last message on `subject`; nullopt when there is none.
  Result<std::optional<StoredMessage>> lastMessage(const std::string& stream,
                                                   const std::string& subject);

  // Binds to an existing durable pull consumer.
  Result<PullSubscription> pullSubscribe(const std::string& stream, const std::string& consumer);

  const std::shared_ptr<Connection>& connection() const { return conn_; }

 private:
  JetStream(jsCtx* js, std::shared_ptr<Connection> conn, std::chrono::milliseconds apiTimeout)
      : js_(js), conn_(std::move(conn)), apiTimeout_(apiTimeout) {}
  // One request of the management API, its body built by jetstream_json (never by libnats,
  // which does not escape strings): the reply's object, or its error.
  // Asked again after a "temporarily unavailable" answer, or a read after a timeout
  // (retryDelay).
  Result<nlohmann::json> apiRequest(const std::string& subject, const nlohmann::json& body,
                                    const std::string& doing, ApiCall call);
  Result<nlohmann::json> apiRequestOnce(const std::string& subject, const std::string& data,
                                        const std::string& doing);
  Result<StreamInfo> streamCall(const char* verb, const std::string& name,
                                const nlohmann::json& body, const std::string& doing);
  Result<std::optional<StoredMessage>> getMessage(const std::string& stream,
                                                  const nlohmann::json& query,
                                                  const std::string& doing);
  Result<ConsumerInfo> consumerCall(const char* verb, const std::string& stream,
                                    const std::string& consumer, const nlohmann::json& body,
                                    const std::string& doing);

  jsCtx* js_;  // publish and pull only
  std::shared_ptr<Connection> conn_;
  std::chrono::milliseconds apiTimeout_;
  std::shared_ptr<LeaderMemory> leaders_ = std::make_shared<LeaderMemory>();
};

}  // namespace osmosis::nats
