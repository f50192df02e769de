// Channel provisioning end to end: the osmosis-operator binary against a real kube-apiserver
// and a real nats-server (Debian's 2.9 or the current release, from OSMOSIS_NATS_SERVER).
// Results are read with clients we did not write: kubectl and the nats CLI.

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/operator_fixture.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::eventually;
using testing::kConverge;

class ChannelTest : public testing::OperatorTest {};

TEST_F(ChannelTest, ApplyCreatesStreamAndConsumerWithTheSpecAndReportsReady) {
  ASSERT_EQ(apply(manifest("orders", R"(  stream:
    maxAge: 24h
    maxMsgs: 100000
  consumer:
    ackWait: 45s
    maxDeliver: 7
    maxAckPending: 200
    backoff: [1s, 5s]
)"))
                .code,
            0);
  json ready = waitCondition("orders", "Ready", "True", "Provisioned");
  EXPECT_EQ(ready.value("observedGeneration", 0), 1);
  json st = channel("orders")["status"];
  EXPECT_EQ(st.value("stream", ""), stream("orders"));
  EXPECT_EQ(st.value("consumer", ""), "workers");
  EXPECT_EQ(st.value("observedGeneration", 0), 1);

  json si = streamInfo(stream("orders"));
  ASSERT_TRUE(si.is_object()) << "stream missing on the server";
  EXPECT_EQ(si["config"]["subjects"], json::array({ns_ + ".orders.>"}));
  EXPECT_EQ(si["config"]["retention"], "workqueue");
  EXPECT_EQ(si["config"]["storage"], "file");
  EXPECT_EQ(si["config"]["max_age"], int64_t{24} * 3600 * 1000000000);
  EXPECT_EQ(si["config"]["max_msgs"], 100000);
  json ci = consumerInfo(stream("orders"));
  ASSERT_TRUE(ci.is_object()) << "consumer missing on the server";
  EXPECT_EQ(ci["config"]["durable_name"], "workers");
  EXPECT_EQ(ci["config"]["ack_policy"], "explicit");
  // With a backoff list NATS uses its first entry as the ack wait.
  EXPECT_EQ(ci["config"]["ack_wait"], int64_t{1} * 1000000000);
  EXPECT_EQ(ci["config"]["max_deliver"], 7);
  EXPECT_EQ(ci["config"]["max_ack_pending"], 200);
  EXPECT_EQ(ci["config"]["backoff"], json::array({1000000000, 5000000000}));

  waitEvent("orders", "StreamCreated");
  waitEvent("orders", "ConsumerCreated");

  // The backlog figures follow what is published (status refreshed by the periodic resync).
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(nats({"pub", ns_ + ".orders.new", "m" + std::to_string(i)}).code, 0);
  // (Stream and consumer are read one after the other: wait for both to have all five.)
  EXPECT_TRUE(eventually(
      [&] {
        json now = channel("orders")["status"];
        return now.value("pending", 0) == 5 && now.value("streamMessages", 0) == 5;
      },
      kConverge, 200ms))
      << channel("orders")["status"].dump();
  EXPECT_EQ(channel("orders")["status"].value("backlog", 0), 5);

  // The printer columns, as a user sees them.
  auto get = kubectl({"get", "chan", "orders"});
  EXPECT_NE(get.out.find("READY"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find(stream("orders")), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("True"), std::string::npos) << get.out;
}

TEST_F(ChannelTest, MutableEditsFollowAndServerDriftIsRepaired) {
  ASSERT_EQ(apply(manifest("orders", "  stream: {maxAge: 1h}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  ASSERT_EQ(
      kubectl(
          {"patch", "channel", "orders", "--type", "merge", "-p",
           R"({"spec":{"stream":{"maxAge":"2h","maxBytes":1048576},"consumer":{"ackWait":"1m"}}})"})
          .code,
      0);
  EXPECT_TRUE(eventually(
      [&] {
        json si = streamInfo(stream("orders"));
        return si.is_object() && si["config"]["max_age"] == int64_t{7200} * 1000000000 &&
               si["config"]["max_bytes"] == 1048576;
      },
      kConverge, 200ms))
      << streamInfo(stream("orders")).dump();
  EXPECT_TRUE(eventually(
      [&] {
        return consumerInfo(stream("orders"))["config"]["ack_wait"] == int64_t{60} * 1000000000;
      },
      kConverge, 200ms));
  EXPECT_EQ(waitCondition("orders", "Ready", "True").value("observedGeneration", 0), 2);
  waitEvent("orders", "StreamUpdated");
  waitEvent("orders", "ConsumerUpdated");

  // Someone changes the stream behind our back: the resync puts the spec back.
  auto edit = nats({"stream", "edit", stream("orders"), "--max-msgs", "5", "-f"});
  ASSERT_EQ(edit.code, 0) << edit.err << edit.out;
  EXPECT_TRUE(eventually([&] { return streamInfo(stream("orders"))["config"]["max_msgs"] == -1; },
                         kConverge, 200ms));
  waitEvent("orders", "StreamDriftRepaired");
}

TEST_F(ChannelTest, ImmutableFieldsAreRefusedByTheApiServerWithTheReason) {
  ASSERT_EQ(apply(manifest("orders", "  stream: {storage: File, retention: WorkQueue}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  for (const char* patch : {R"({"spec":{"stream":{"storage":"Memory"}}})",
                            R"({"spec":{"stream":{"retention":"Limits"}}})"}) {
    auto r = kubectl({"patch", "channel", "orders", "--type", "merge", "-p", patch});
    EXPECT_NE(r.code, 0) << patch;
    EXPECT_NE(r.err.find("cannot be changed"), std::string::npos) << r.err;
  }
  EXPECT_EQ(streamInfo(stream("orders"))["config"]["storage"], "file");
}

TEST_F(ChannelTest, ConsumerDeletedBehindOurBackIsRecreated) {
  ASSERT_EQ(apply(manifest("orders", "  {}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  auto rm = nats({"consumer", "rm", stream("orders"), "workers", "-f"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  ASSERT_TRUE(
      eventually([&] { return consumerInfo(stream("orders")).is_object(); }, kConverge, 200ms));
  waitEvent("orders", "ConsumerRecreated");
  // Deleting the whole stream is repaired too.
  rm = nats({"stream", "rm", stream("orders"), "-f"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_TRUE(eventually(
      [&] {
        return streamInfo(stream("orders")).is_object() &&
               consumerInfo(stream("orders")).is_object();
      },
      kConverge, 200ms));
  waitEvent("orders", "StreamRecreated");
  waitCondition("orders", "Ready", "True");
}

TEST_F(ChannelTest, NatsRestartWithMemoryStorageBringsStreamAndConsumerBack) {
  ASSERT_EQ(apply(manifest("fast", "  stream: {storage: Memory}\n")).code, 0);
  waitCondition("fast", "Ready", "True");
  ASSERT_EQ(streamInfo(stream("fast"))["config"]["storage"], "memory");

  ASSERT_TRUE(nats_.stop().ok());
  // While NATS is down the Channel says so, and the operator keeps running.
  json down = waitCondition("fast", "Ready", "False");
  EXPECT_EQ(down.value("reason", ""), "NatsUnavailable") << down.dump();
  EXPECT_TRUE(op_.running());

  ASSERT_TRUE(nats_.start().ok()) << nats_.log();
  EXPECT_TRUE(eventually(
      [&] {
        return streamInfo(stream("fast")).is_object() && consumerInfo(stream("fast")).is_object();
      },
      kConverge, 200ms));
  waitCondition("fast", "Ready", "True");
  waitEvent("fast", "StreamRecreated");
}

TEST_F(ChannelTest, DeletionHonoursTheDeletionPolicyAndRemovesTheFinalizer) {
  ASSERT_EQ(apply(manifest("kept", "  deletionPolicy: Retain\n")).code, 0);
  ASSERT_EQ(apply(manifest("gone", "  deletionPolicy: Delete\n")).code, 0);
  waitCondition("kept", "Ready", "True");
  waitCondition("gone", "Ready", "True");
  EXPECT_EQ(channel("kept")["metadata"]["finalizers"], json::array({"osmosis.dev/stream"}));
  ASSERT_EQ(nats({"pub", ns_ + ".kept.x", "keep me"}).code, 0);

  auto r = kubectl({"delete", "channel", "kept", "gone", "--timeout=60s"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(kubectl({"get", "channel", "kept"}).code, 0);
  EXPECT_NE(kubectl({"get", "channel", "gone"}).code, 0);
  json kept = streamInfo(stream("kept"));
  ASSERT_TRUE(kept.is_object()) << "Retain must keep the stream";
  EXPECT_EQ(kept["state"]["messages"], 1);
  EXPECT_FALSE(streamInfo(stream("gone")).is_object()) << "Delete must remove the stream";
  EXPECT_TRUE(eventReasons("kept").count("StreamRetained"));
  EXPECT_TRUE(eventReasons("gone").count("StreamDeleted"));
}

// spec.gateway (issue 14): while enabled the Channel has a results stream and status.gateway;
// disabled, both go; the Channel's deletion takes the results stream even with Retain.
TEST_F(ChannelTest, GatewayKeepsAResultsStreamAndStatusOnlyWhileEnabled) {
  ASSERT_EQ(apply(manifest("orders", R"(  stream: {storage: Memory}
  gateway:
    enabled: true
    resultsMaxAge: 30m
)"))
                .code,
            0);
  waitCondition("orders", "GatewayReady", "True", "ResultsStreamReady");
  const std::string results = stream("orders") + "_RESULTS";
  json si = streamInfo(results);
  ASSERT_TRUE(si.is_object()) << "results stream missing on the server";
  EXPECT_EQ(si["config"]["subjects"], json::array({"osmosis.results." + ns_ + ".orders.>"}));
  EXPECT_EQ(si["config"]["max_age"], int64_t{30} * 60 * 1000000000);
  EXPECT_EQ(si["config"]["retention"], "limits");
  EXPECT_EQ(si["config"]["storage"], "memory") << "the channel stream's storage";
  EXPECT_EQ(si["config"]["discard"], "old");
  EXPECT_EQ(si["config"]["duplicate_window"], int64_t{120} * 1000000000);
  EXPECT_EQ(si["config"]["num_replicas"], 1);
  auto path = kubectl({"get", "chan", "orders", "-o", "jsonpath={.status.gateway.path}"});
  EXPECT_EQ(path.out, "/v1/namespaces/" + ns_ + "/channels/orders/messages") << path.err;
  auto named = kubectl({"get", "chan", "orders", "-o", "jsonpath={.status.gateway.resultsStream}"});
  EXPECT_EQ(named.out, results) << named.err;
  EXPECT_EQ(condition("orders", "Ready").value("status", ""), "True");
  waitEvent("orders", "ResultsStreamCreated");
  // A request's event, published where a sidecar publishes it, is kept there.
  ASSERT_EQ(nats({"pub", "osmosis.results." + ns_ + ".orders." + std::string(32, 'a'),
                  R"({"type":"delivered"})"})
                .code,
            0);
  EXPECT_TRUE(
      eventually([&] { return streamInfo(results)["state"]["messages"] == 1; }, kConverge, 200ms))
      << streamInfo(results).dump();

  // Disabled: the results stream is deleted and status.gateway cleared.
  ASSERT_EQ(kubectl({"patch", "channel", "orders", "--type", "merge", "-p",
                     R"({"spec":{"gateway":{"enabled":false}}})"})
                .code,
            0);
  EXPECT_TRUE(eventually(
      [&] {
        return !streamInfo(results).is_object() && !channel("orders")["status"].contains("gateway");
      },
      kConverge, 200ms))
      << channel("orders")["status"].dump();
  waitCondition("orders", "GatewayReady", "False", "Disabled");
  waitEvent("orders", "ResultsStreamDeleted");
  EXPECT_TRUE(streamInfo(stream("orders")).is_object()) << "the channel's own stream stays";
  EXPECT_EQ(condition("orders", "Ready").value("status", ""), "True");

  // Enabled again, then the Channel deleted with deletionPolicy Retain: results go, messages stay.
  ASSERT_EQ(kubectl({"patch", "channel", "orders", "--type", "merge", "-p",
                     R"({"spec":{"gateway":{"enabled":true}}})"})
                .code,
            0);
  EXPECT_TRUE(eventually([&] { return streamInfo(results).is_object(); }, kConverge, 200ms));
  waitCondition("orders", "GatewayReady", "True");
  auto r = kubectl({"delete", "channel", "orders", "--timeout=60s"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(streamInfo(results).is_object()) << "results are deleted with the Channel";
  EXPECT_TRUE(streamInfo(stream("orders")).is_object()) << "Retain keeps the channel's stream";
}

TEST_F(ChannelTest, MetricsHealthAndReadiness) {
  ASSERT_EQ(apply(manifest("orders", "  {}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  std::string port;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& line : [&] {
               std::vector<std::string> lines;
               std::stringstream ss(testing::readFile(dir_ + "/op.out"));
               for (std::string l; std::getline(ss, l);)
                 lines.push_back(l);
               return lines;
             }()) {
          json j = json::parse(line, nullptr, false);
          if (j.is_object() && j.value("msg", "").find("/metrics") != std::string::npos) {
            std::string a = j.value("address", "");
            port = a.substr(a.rfind(':') + 1);
            return true;
          }
        }
        return false;
      },
      10s));
  auto get = [&](const std::string& path) {
    return testing::runCommand(
        {"curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:" + port + path});
  };
  EXPECT_NE(get("/healthz").out.find("200"), std::string::npos);
  EXPECT_NE(get("/readyz").out.find("200"), std::string::npos);
  std::string m = get("/metrics").out;
  for (const char* metric : {"osmosis_reconcile_total", "osmosis_workqueue_depth",
                             "osmosis_nats_calls_total", "osmosis_channels 1"}) {
    EXPECT_NE(m.find(metric), std::string::npos) << metric << " missing:\n" << m;
  }
}

// Every kind of bad Channel ends in a clear rejection (from the API server's schema) or a clear
// condition (from the operator), while a valid Channel keeps working beside them.
TEST_F(ChannelTest, InvalidChannelsGetClearErrorsAndValidOnesKeepWorking) {
  // Subjects start with the namespace (the ownership rule, docs/security.md).
  auto own = [&](const std::string& s) { return ns_ + "." + s; };
  ASSERT_EQ(apply(manifest("good", "  subjects: [" + own("orders.>") + "]\n")).code, 0);
  waitCondition("good", "Ready", "True");

  // 1. Rejected by the API server: kubectl fails and names the field.
  struct Rejected {
    const char* name;
    const char* spec;
    const char* mentions;
  };
  std::vector<Rejected> rejected = {
      {"r-retention", "  stream: {retention: Forever}", "spec.stream.retention"},
      {"r-storage", "  stream: {storage: Disk}", "spec.stream.storage"},
      {"r-replicas0", "  stream: {replicas: 0}", "spec.stream.replicas"},
      {"r-replicas9", "  stream: {replicas: 9}", "spec.stream.replicas"},
      {"r-maxage", "  stream: {maxAge: a day}", "spec.stream.maxAge"},
      {"r-msgsize", "  stream: {maxMsgSize: 100000000}", "spec.stream.maxMsgSize"},
      {"r-discard", "  stream: {discard: Sometimes}", "spec.stream.discard"},
      {"r-ackwait", "  consumer: {ackWait: '0'}", "spec.consumer.ackWait"},
      {"r-maxdeliver", "  consumer: {maxDeliver: 0}", "spec.consumer.maxDeliver"},
      {"r-maxackpending", "  consumer: {maxAckPending: 0}", "spec.consumer.maxAckPending"},
      {"r-backoff", "  consumer: {backoff: [1s, soon]}", "spec.consumer.backoff"},
      {"r-backoff-long", "  consumer: {maxDeliver: 2, backoff: [1s, 2s]}", "backoff"},
      {"r-dead-wild", "  consumer: {deadLetterSubject: 'dead.*'}",
       "spec.consumer.deadLetterSubject"},
      {"r-policy", "  deletionPolicy: Orphan", "spec.deletionPolicy"},
      {"r-minmax", "  scaling: {minReplicas: 5, maxReplicas: 2}", "minReplicas"},
      {"r-port", "  worker: {app: {port: 70000}}", "spec.worker.app.port"},
      {"r-path", "  worker: {app: {path: orders}}", "spec.worker.app.path"},
      {"r-nosubjects", "  subjects: []", "spec.subjects"},
      {"r-space", "  subjects: ['a b']", "spec.subjects"},
      {"r-empty-token", "  subjects: ['a..b']", "spec.subjects"},
      {"r-partial-wild", "  subjects: ['a.b*']", "spec.subjects"},
      {"r-secret", "  nats: {secretRef: {}}", "spec.nats.secretRef.name"},
      {"r-target", "  worker: {scaleTargetRef: {kind: Deployment}}",
       "spec.worker.scaleTargetRef.name"},
      {"r-step", "  scaling: {scaleDown: {maxStepPercent: 0}}", "maxStepPercent"},
      {"r-unknown-type", "  stream: {maxMsgs: lots}", "spec.stream.maxMsgs"},
      // Hostile input (issue 16): JSON injection through a subject (item 1), durations that
      // overflow (item 5), a path that splits the request line (item 18).
      {"r-inject",
       R"(  subjects: ['inj3.a"],"sources":[{"name":"VICTIM3_DATA"}],"subjects":["inj3.a'])",
       "spec.subjects"},
      {"r-quote-dead", "  consumer: {deadLetterSubject: 'dead\",\"x'}",
       "spec.consumer.deadLetterSubject"},
      {"r-maxage-overflow", "  stream: {maxAge: 2562047.9h}", "maxAge"},
      {"r-ackwait-overflow", "  consumer: {ackWait: 2562047.9h}", "ackWait"},
      {"r-dupwindow-overflow", "  stream: {duplicateWindow: 2562047.9h}", "duplicateWindow"},
      {"r-backoff-overflow", "  consumer: {backoff: [1s, 2562047.9h]}", "backoff"},
      {"r-path-crlf", "  worker: {app: {path: \"/x y\\r\\nHost: evil\"}}", "spec.worker.app.path"},
      // spec.gateway (issue 14).
      {"r-gw-enabled", "  gateway: {enabled: please}", "spec.gateway.enabled"},
      {"r-gw-backlog", "  gateway: {maxBacklog: -1}", "spec.gateway.maxBacklog"},
      {"r-gw-secret", "  gateway: {publishers: {secretRef: {}}}",
       "spec.gateway.publishers.secretRef.name"},
      {"r-gw-age-days", "  gateway: {resultsMaxAge: 7d}", "spec.gateway.resultsMaxAge"},
      {"r-gw-age-long", "  gateway: {resultsMaxAge: 168h1s}", "between 1s and 168h"},
      {"r-gw-age-short", "  gateway: {resultsMaxAge: 500ms}", "between 1s and 168h"},
  };
  for (const auto& c : rejected) {
    auto r = apply(manifest(c.name, std::string(c.spec) + "\n"));
    EXPECT_NE(r.code, 0) << c.name << " was accepted";
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << c.name << ": " << r.err;
  }
  // The name must be a DNS label (it becomes part of NATS names).
  auto r = apply(manifest("orders.v2", "  {}\n"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("metadata.name"), std::string::npos) << r.err;

  // 2. Accepted by the schema, refused by the operator with a condition and an Event.
  testing::NatsServer authNats({"", {"--user", "osmosis", "--pass", "right"}, 15000ms});
  ASSERT_TRUE(authNats.start().ok()) << authNats.log();
  std::string secrets =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: unreachable}\ndata: {url: " +
      testing::base64("nats://127.0.0.1:" + std::to_string(testing::freePort())) +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: wrong-password}\ndata: {url: " +
      testing::base64(authNats.url()) + ", user: " + testing::base64("osmosis") +
      ", password: " + testing::base64("wrong") +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: no-url}\ndata: {token: " +
      testing::base64("t") +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad-creds}\ndata: {url: " +
      testing::base64(authNats.url()) + ", creds: " + testing::base64("this is not a creds file") +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad-url}\ndata: {url: " +
      testing::base64("nats://\x80") +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad-tls}\ndata: {url: " +
      testing::base64(authNats.url()) + ", ca.crt: " + testing::base64("garbage") +
      "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad-pem}\ndata: {url: " +
      testing::base64(authNats.url()) + ", ca.crt: " +
      testing::base64("-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n") +
      "}\n";
  ASSERT_EQ(apply(secrets).code, 0);

  struct Refused {
    const char* name;
    std::string spec;
    std::set<std::string> reasons;  // acceptable Ready reasons
    const char* mentions;
  };
  std::vector<Refused> refused = {
      {"s-everything", "  subjects: ['>']", {"SubjectNotPermitted"}, "report subjects"},
      {"s-jsapi", "  subjects: ['$JS.API.>']", {"SubjectNotPermitted"}, "reserved for NATS"},
      {"s-reports", "  subjects: ['osmosis.report.>']", {"SubjectNotPermitted"}, "report"},
      {"s-results",
       "  subjects: ['osmosis.results.>']",
       {"SubjectNotPermitted"},
       "gateway's subjects osmosis.results.>"},
      {"s-broadcast",
       "  consumer: {deadLetterSubject: osmosis.broadcast.shop.orders}",
       {"SubjectNotPermitted"},
       "gateway's subjects osmosis.broadcast.>"},
      // Hostile input (issue 16, item 2): another namespace's subjects are not for squatting.
      {"s-squat", "  subjects: ['victim2.jobs.>']", {"SubjectNotPermitted"}, "--subject-grant"},
      {"s-dead-squat",
       "  consumer: {deadLetterSubject: victim2.dead}",
       {"SubjectNotPermitted"},
       "deadLetterSubject"},
      {"s-overlap-list",
       "  subjects: ['" + own("x.*") + "', '" + own("x.y") + "']",
       {"InvalidSpec"},
       "overlaps"},
      {"s-dead-captured",
       "  subjects: ['" + own("pay.>") + "']\n  consumer: {deadLetterSubject: " + own("pay.dead") +
           "}",
       {"InvalidSpec"},
       "captured"},
      {"s-overlap-other",
       "  subjects: ['" + own("orders.created") + "']",
       {"SubjectConflict"},
       "good"},
      {"s-no-secret",
       "  nats: {secretRef: {name: does-not-exist}}",
       {"NatsSecretNotFound"},
       "does-not-exist"},
      {"s-unreachable", "  nats: {secretRef: {name: unreachable}}", {"NatsUnavailable"}, ""},
      {"s-wrong-password", "  nats: {secretRef: {name: wrong-password}}", {"NatsAuthFailed"}, ""},
      {"s-no-url", "  nats: {secretRef: {name: no-url}}", {"NatsConfigInvalid"}, "url"},
      {"s-bad-creds", "  nats: {secretRef: {name: bad-creds}}", {"NatsConfigInvalid"}, "creds"},
      // Hostile input (issue 16, items 4 and 20): a non-UTF-8 URL and garbage TLS material are
      // configuration errors with a readable reason, not a crash or "unavailable" for ever.
      {"s-bad-url", "  nats: {secretRef: {name: bad-url}}", {"NatsConfigInvalid"}, "NATS URL"},
      {"s-bad-tls", "  nats: {secretRef: {name: bad-tls}}", {"NatsConfigInvalid"}, "ca.crt"},
      {"s-bad-pem", "  nats: {secretRef: {name: bad-pem}}", {"NatsConfigInvalid"}, "key ca.crt"},
  };
  for (const auto& c : refused) {
    ASSERT_EQ(apply(manifest(c.name, c.spec + "\n")).code, 0) << c.name;
  }
  for (const auto& c : refused) {
    json ready;
    bool ok = eventually(
        [&] {
          ready = condition(c.name, "Ready");
          return ready.value("status", "") == "False" && c.reasons.count(ready.value("reason", ""));
        },
        kConverge, 200ms);
    EXPECT_TRUE(ok) << c.name << ": " << ready.dump();
    EXPECT_NE(ready.value("message", "").find(c.mentions), std::string::npos)
        << c.name << ": " << ready.dump();
    EXPECT_TRUE(eventReasons(c.name).count(ready.value("reason", "")))
        << c.name << ": no Event for " << ready.value("reason", "");
  }
  // None of them made a stream; the good one is untouched, and a new valid one still works.
  auto ls = nats({"stream", "ls", "--names"});
  EXPECT_EQ(ls.out.find("S-"), std::string::npos) << ls.out;
  EXPECT_EQ(condition("good", "Ready").value("status", ""), "True");
  // No status or Event echoes the private directory the operator keeps Secret files in.
  auto events = kubectl({"get", "events", "-o", "json"});
  EXPECT_EQ(events.out.find("osmosis-operator-"), std::string::npos) << "a private path leaked";
  ASSERT_EQ(apply(manifest("late", "  {}\n")).code, 0);
  waitCondition("late", "Ready", "True");
  EXPECT_TRUE(op_.running());

  // Fixing a refused Channel clears its condition.
  ASSERT_EQ(kubectl({"patch", "channel", "s-squat", "--type", "merge", "-p",
                     R"({"spec":{"subjects":[")" + own("fixed.>") + R"("]}})"})
                .code,
            0);
  waitCondition("s-squat", "Ready", "True");
}

}  // namespace
}  // namespace osmosis
