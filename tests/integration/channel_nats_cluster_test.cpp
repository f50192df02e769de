// A Channel on a three-node NATS cluster (stream.replicas: 3): the operator, given every
// member's URL, rides out the loss of the stream leader's and then the consumer leader's
// server. Its status figures stay right (they are read through the JetStream API, which the
// leader answers, never a stale follower), nothing is recreated, and Ready comes back by
// itself. Results read with kubectl and the nats CLI.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/operator_fixture.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::eventually;
using testing::kConverge;
using Clock = std::chrono::steady_clock;

class ChannelOnNatsClusterTest : public testing::OperatorTest {
 protected:
  int natsClusterSize() const override { return 3; }

  // The member that leads the stream (or its consumer), by the nats CLI; -1: no leader now.
  int leaderOf(const json& info) {
    if (!info.is_object()) return -1;
    return cluster_->indexOf(info.value("cluster", json::object()).value("leader", ""));
  }
  // Publishes `count` messages to JetStream (acknowledged), through any live member.
  void publish(int count) {
    auto r = nats({"pub", "-J", "--count", std::to_string(count), ns_ + ".orders.new", "m"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  // Kills the member, waits for the stream and its consumer to answer from new leaders,
  // publishes `more`, and returns how long the Channel's status took to show `backlog`.
  int64_t killThenCheck(int member, int more, int64_t backlog) {
    cluster_->member(member).crash();
    EXPECT_TRUE(eventually(
        [&] {
          const int s = leaderOf(streamInfo(stream("orders")));
          const int c = leaderOf(consumerInfo(stream("orders")));
          return s >= 0 && s != member && c >= 0 && c != member;
        },
        60s, 200ms))
        << "no new leaders after killing " << cluster_->name(member);
    const auto t = Clock::now();
    publish(more);
    EXPECT_TRUE(eventually(
        [&] {
          json st = channel("orders")["status"];
          return st.value("backlog", int64_t{-1}) == backlog &&
                 st.value("streamMessages", int64_t{-1}) == backlog;
        },
        kConverge, 100ms))
        << channel("orders")["status"].dump();
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  }
};

TEST_F(ChannelOnNatsClusterTest, LeaderLossesKeepStatusRightAndRecreateNothing) {
  ASSERT_EQ(apply(manifest("orders", "  stream:\n    replicas: 3\n")).code, 0);
  waitCondition("orders", "Ready", "True", "Provisioned");
  json si = streamInfo(stream("orders"));
  ASSERT_TRUE(si.is_object());
  EXPECT_EQ(si["config"].value("num_replicas", 0), 3);
  const int streamLeader = leaderOf(si);
  ASSERT_GE(streamLeader, 0) << si.dump();

  publish(50);
  ASSERT_TRUE(eventually([&] { return channel("orders")["status"].value("backlog", 0) == 50; },
                         kConverge, 100ms))
      << channel("orders")["status"].dump();

  const int64_t afterStreamLeader = killThenCheck(streamLeader, 25, 75);
  waitCondition("orders", "Ready", "True");
  ASSERT_TRUE(cluster_->member(streamLeader).start().ok());

  // The consumer's leader now (it may or may not be the member that came back).
  int consumerLeader = -1;
  ASSERT_TRUE(eventually(
      [&] { return (consumerLeader = leaderOf(consumerInfo(stream("orders")))) >= 0; }, 30s));
  const int64_t afterConsumerLeader = killThenCheck(consumerLeader, 25, 100);
  waitCondition("orders", "Ready", "True");
  ASSERT_TRUE(cluster_->member(consumerLeader).start().ok());

  std::cout << "[nats-cluster] status showed the new backlog " << afterStreamLeader
            << " ms after publishing behind a new stream leader, " << afterConsumerLeader
            << " ms behind a new consumer leader" << std::endl;
  // Nothing was taken for missing and made again; the operator never stopped.
  EXPECT_EQ(eventMessages("orders", "StreamCreated").size(), 1u);
  EXPECT_EQ(eventMessages("orders", "ConsumerCreated").size(), 1u);
  EXPECT_TRUE(op_.running());
  json ci = consumerInfo(stream("orders"));
  EXPECT_EQ(ci.value("num_pending", 0), 100) << ci.dump();
}

}  // namespace
}  // namespace osmosis
