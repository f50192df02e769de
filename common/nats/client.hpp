#pragma once

// What the operator's controllers need from one NATS connection: the JetStream management API
// and core subscriptions. An interface (like kube::Transport), so the Channel controller's and
// the autoscaler's branches run in unit tests against an in-memory fake
// (tests/fakes/fake_nats.hpp); the real one wraps libnats (makeClient).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

class JetStream;

// A subscription; destroying it unsubscribes and waits until no handler is running.
class Listening {
 public:
  virtual ~Listening() = default;
};

class Client {
 public:
  using Handler = std::function<void(std::string_view subject, std::string_view data)>;
  virtual ~Client() = default;

  virtual Result<StreamInfo> addStream(const StreamConfig& config) = 0;
  virtual Result<StreamInfo> updateStream(const StreamConfig& config) = 0;
  virtual Result<StreamInfo> streamInfo(const std::string& name) = 0;
  virtual Status deleteStream(const std::string& name) = 0;
  // Every stream with its state, in as few calls as the server allows (JetStream::listStreams).
  virtual Result<std::vector<StreamInfo>> listStreams() = 0;
  // Creates the durable consumer, or updates it when it exists (the server refuses changes to
  // immutable fields with an InvalidArgument/Conflict error).
  virtual Result<ConsumerInfo> addOrUpdateConsumer(const std::string& stream,
                                                   const ConsumerConfig& config) = 0;
  virtual Result<ConsumerInfo> consumerInfo(const std::string& stream,
                                            const std::string& consumer) = 0;
  virtual Status deleteConsumer(const std::string& stream, const std::string& consumer) = 0;

  // Core NATS: `handler` runs (on a NATS thread; keep it short) for each message on `subject`
  // until the returned subscription is destroyed.
  virtual Result<std::unique_ptr<Listening>> subscribe(const std::string& subject,
                                                       Handler handler) = 0;
};

// The real one, on a libnats JetStream context and its connection.
std::shared_ptr<Client> makeClient(std::shared_ptr<JetStream> js);

}  // namespace osmosis::nats
