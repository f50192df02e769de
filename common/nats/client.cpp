#include "common/nats/client.hpp"

#include "common/nats/jetstream.hpp"
#include "common/nats/subscription.hpp"

namespace osmosis::nats {
namespace {

class LibnatsClient final : public Client {
 public:
  explicit LibnatsClient(std::shared_ptr<JetStream> js) : js_(std::move(js)) {}

  Result<StreamInfo> addStream(const StreamConfig& c) override { return js_->addStream(c); }
  Result<StreamInfo> updateStream(const StreamConfig& c) override { return js_->updateStream(c); }
  Result<StreamInfo> streamInfo(const std::string& name) override { return js_->streamInfo(name); }
  Status deleteStream(const std::string& name) override { return js_->deleteStream(name); }
  Result<std::vector<StreamInfo>> listStreams() override { return js_->listStreams(); }
  Result<ConsumerInfo> addOrUpdateConsumer(const std::string& stream,
                                           const ConsumerConfig& c) override {
    return js_->addOrUpdateConsumer(stream, c);
  }
  Result<ConsumerInfo> consumerInfo(const std::string& stream,
                                    const std::string& consumer) override {
    return js_->consumerInfo(stream, consumer);
  }
  Status deleteConsumer(const std::string& stream, const std::string& consumer) override {
    return js_->deleteConsumer(stream, consumer);
  }
  Result<std::unique_ptr<Listening>> subscribe(const std::string& subject,
                                               Handler handler) override {
    auto sub = Subscription::subscribe(js_->connection(), subject, std::move(handler));
    if (!sub) return sub.error();
    return std::unique_ptr<Listening>(std::move(sub.value()));
  }

 private:
  std::shared_ptr<JetStream> js_;
};

}  // namespace

std::shared_ptr<Client> makeClient(std::shared_ptr<JetStream> js) {
  return std::make_shared<LibnatsClient>(std::move(js));
}

}  // namespace osmosis::nats
