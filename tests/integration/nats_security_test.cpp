// Security end to end (issue 15): a nats-server that requires mutual TLS (certificates made
// here with openssl) and a user and password, with NATS permissions that confine each
// channel's sidecar user to its own consumer's API, report subject and dead-letter subject.
// - The operator connects with TLS + user from its environment (nothing in its argv) and
//   through a Channel's Secret; both Channels become Ready.
// - A sidecar with the orders user processes orders' messages.
// - That user is refused by the server on refunds' consumer, report and dead-letter subjects
//   (checked with the nats CLI, and with a real sidecar pointed at refunds).
// - No secret value (password, private key) appears in any log line, Event, status field,
//   metric or process argument list.

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/nats/jetstream.hpp"
#include "common/nats/loop_publisher.hpp"
#include "tests/fixtures/operator_fixture.hpp"
#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::eventually;
using testing::kConverge;
using testing::readFile;
using testing::runCommand;

const char* kAdminPassword = "adm1n-Pw-9f3c2e";
const char* kOrdersPassword = "0rders-Pw-77ab1d";

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class NatsSecurityTest : public testing::OperatorTest {
 protected:
  // Certificates (a CA, the server's for 127.0.0.1, a client's) and the server's config.
  void prepareNats() override {
    pki_ = dir_ + "/pki";
    std::filesystem::create_directories(pki_);
    auto openssl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "openssl");
      auto r = runCommand(args);
      ASSERT_EQ(r.code, 0) << r.err;
    };
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1", "-nodes"};
    auto req = [&](std::vector<std::string> head, const std::string& name, const std::string& cn) {
      head.insert(head.end(), ec.begin(), ec.end());
      head.insert(head.end(), {"-keyout", pki_ + "/" + name + ".key", "-subj", "/CN=" + cn});
      openssl(head);
    };
    req({"req", "-x509", "-days", "1", "-out", pki_ + "/ca.crt"}, "ca", "osmosis-test-ca");
    writeFile(pki_ + "/server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    writeFile(pki_ + "/client.ext", "extendedKeyUsage=clientAuth\n");
    for (const char* who : {"server", "client"}) {
      const std::string w = who;
      req({"req", "-out", pki_ + "/" + w + ".csr"}, w, "osmosis-test-" + w);
      openssl({"x509", "-req", "-days", "1", "-in", pki_ + "/" + w + ".csr", "-CA",
               pki_ + "/ca.crt", "-CAkey", pki_ + "/ca.key", "-CAcreateserial", "-out",
               pki_ + "/" + w + ".crt", "-extfile", pki_ + "/" + w + ".ext"});
    }
    // The orders sidecar's user: its own consumer's pull/info API and acks, its report and
    // dead-letter subjects, replies on its inbox. Nothing else.
    const std::string s = stream("orders");
    const std::string conf = "tls {\n  cert_file: \"" + pki_ + "/server.crt\"\n  key_file: \"" +
                             pki_ + "/server.key\"\n  ca_file: \"" + pki_ +
                             "/ca.crt\"\n  verify: true\n  timeout: 5\n}\n"
                             "authorization {\n  users = [\n"
                             "    {user: admin, password: \"" +
                             kAdminPassword +
                             "\"}\n"
                             "    {user: orders, password: \"" +
                             kOrdersPassword +
                             "\", permissions: {\n"
                             "      publish: {allow: [\"$JS.API.CONSUMER.MSG.NEXT." +
                             s + ".workers\", \"$JS.API.CONSUMER.INFO." + s +
                             ".workers\", \"$JS.ACK." + s + ".workers.>\", \"osmosis.report." +
                             ns_ + ".orders\", \"" + ns_ +
                             ".dead.orders\"]}\n"
                             "      subscribe: {allow: [\"_INBOX.>\"]}\n"
                             "    }}\n  ]\n}\n";
    writeFile(dir_ + "/nats.conf", conf);
    nats_.setExtraArgs({"-c", dir_ + "/nats.conf"});
  }

  std::string tlsUrl() const { return "tls://127.0.0.1:" + std::to_string(nats_.port()); }
  // The connection settings as environment: nothing secret on a command line.
  std::vector<std::string> natsEnv(const std::string& user, const std::string& password) const {
    return {"OSMOSIS_NATS_URL=" + tlsUrl(),
            "OSMOSIS_NATS_USER=" + user,
            "OSMOSIS_NATS_PASSWORD=" + password,
            "OSMOSIS_NATS_TLS_CA=" + pki_ + "/ca.crt",
            "OSMOSIS_NATS_TLS_CERT=" + pki_ + "/client.crt",
            "OSMOSIS_NATS_TLS_KEY=" + pki_ + "/client.key"};
  }

  void startOperator() override {
    std::vector<std::string> args = {OSMOSIS_OPERATOR_BIN, "--kubeconfig",
                                     cp_->kubeconfig(),    "--leader-elect=false",
                                     "--watch-namespace",  ns_,
                                     "--http-address",     "127.0.0.1:0",
                                     "--resync-period",    "1s"};
    auto child = ChildProcess::spawn(
        {args, natsEnv("admin", kAdminPassword), dir_ + "/op.out", dir_ + "/op.err"});
    ASSERT_TRUE(child.ok());
    op_ = std::move(child.value());
  }

  // The nats CLI as `user` (its settings from the environment, as the CLI documents).
  testing::CommandResult natsAs(const std::string& user, const std::string& password,
                                std::vector<std::string> args) {
    args.insert(args.begin(), testing::toolsBin() + "/nats");
    return runCommand(args,
                      {"NATS_URL=" + tlsUrl(), "NATS_USER=" + user, "NATS_PASSWORD=" + password,
                       "NATS_CA=" + pki_ + "/ca.crt", "NATS_CERT=" + pki_ + "/client.crt",
                       "NATS_KEY=" + pki_ + "/client.key"});
  }
  json consumerAsAdmin(const std::string& channel) {
    auto r =
        natsAs("admin", kAdminPassword, {"consumer", "info", stream(channel), "workers", "--json"});
    return r.code == 0 ? json::parse(r.out, nullptr, false) : json();
  }

  ChildProcess startSidecar(const std::string& channel, int appPort, const std::string& name) {
    ChildProcess::Options o;
    o.argv = {OSMOSIS_SIDECAR_BIN,
              "--channel",
              channel,
              "--namespace",
              ns_,
              "--pod",
              name,
              "--stream",
              stream(channel),
              "--consumer",
              "workers",
              "--app-port",
              std::to_string(appPort),
              "--dead-letter-subject",
              ns_ + ".dead." + channel,
              "--report-interval",
              "1s",
              "--listen",
              "127.0.0.1:0"};
    o.env = natsEnv("orders", kOrdersPassword);
    o.stdoutPath = dir_ + "/" + name + ".out";
    o.stderrPath = dir_ + "/" + name + ".err";
    auto p = ChildProcess::spawn(o);
    EXPECT_TRUE(p.ok());
    return p.ok() ? std::move(p.value()) : ChildProcess();
  }

  std::string pki_;
};

TEST_F(NatsSecurityTest, TlsAndCredentialsEndToEndAndASidecarIsConfinedToItsChannel) {
  // orders: through a Secret (TLS material and the user as keys); refunds: the operator's own
  // connection (from its environment).
  auto b64file = [&](const std::string& f) { return testing::base64(readFile(pki_ + "/" + f)); };
  ASSERT_EQ(apply("apiVersion: v1\nkind: Secret\nmetadata: {name: nats}\ndata:\n  url: " +
                  testing::base64(tlsUrl()) + "\n  user: " + testing::base64("admin") +
                  "\n  password: " + testing::base64(kAdminPassword) +
                  "\n  ca.crt: " + b64file("ca.crt") + "\n  tls.crt: " + b64file("client.crt") +
                  "\n  tls.key: " + b64file("client.key") + "\n")
                .code,
            0);
  ASSERT_EQ(apply(manifest("orders", "  nats: {secretRef: {name: nats}}\n")).code, 0);
  ASSERT_EQ(apply(manifest("refunds", "  scaling: {maxReplicas: 2}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  waitCondition("refunds", "Ready", "True");

  // Work for both; the orders sidecar (orders' user) processes orders'.
  for (const char* ch : {"orders", "refunds"}) {
    auto r = natsAs("admin", kAdminPassword,
                    {"pub", "-J", "--count", "20", ns_ + "." + ch + ".new", "m{{Count}}"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  const int appPort = testing::freePort();
  ChildProcess app = ChildProcess::spawn({{OSMOSIS_TEST_APP_BIN, "--port", std::to_string(appPort),
                                           "--record", dir_ + "/app.jsonl"},
                                          {},
                                          dir_ + "/app.out",
                                          dir_ + "/app.err"})
                         .value();
  ChildProcess sidecar = startSidecar("orders", appPort, "orders-sidecar");
  ASSERT_TRUE(eventually(
      [&] {
        json c = consumerAsAdmin("orders");
        return c.is_object() && c.value("num_pending", -1) == 0 &&
               c.value("num_ack_pending", -1) == 0 && c["ack_floor"].value("stream_seq", 0) == 20;
      },
      kConverge, 200ms))
      << consumerAsAdmin("orders").dump() << readFile(dir_ + "/orders-sidecar.out");
  EXPECT_EQ(testing::events(testing::readRecords(dir_ + "/app.jsonl"), "done", 200).size(), 20u);
  // Its reports go out on its own report subject (allowed): one is seen by a subscriber.
  auto report = natsAs("admin", kAdminPassword,
                       {"sub", "osmosis.report." + ns_ + ".orders", "--count", "1", "--raw"});
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_NE(report.out.find("\"pod\":\"orders-sidecar\""), std::string::npos) << report.out;

  // The orders user on refunds: every door refused by the server itself.
  const std::string refunds = stream("refunds");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"consumer", "next", refunds, "workers", "--timeout", "2s"},
           {"consumer", "info", refunds, "workers"},
           {"stream", "info", refunds},
       }) {
    auto r = natsAs("orders", kOrdersPassword, args);
    EXPECT_NE(r.code, 0) << args[0] << " " << args[1] << ": " << r.out;
  }
  // Publishing is fire and forget (the CLI cannot know): the server's log says it refused.
  for (const std::string& subject : {"osmosis.report." + ns_ + ".refunds", ns_ + ".refunds.new"})
    natsAs("orders", kOrdersPassword, {"pub", subject, "spoof"});
  // The server's own log is the witness that it refused (not a timeout of ours).
  for (const std::string& subject :
       {"$JS.API.CONSUMER.MSG.NEXT." + refunds + ".workers", "$JS.API.CONSUMER.INFO." + refunds,
        "$JS.API.STREAM.INFO." + refunds, "osmosis.report." + ns_ + ".refunds",
        ns_ + ".refunds.new"})
    EXPECT_TRUE(eventually(
        [&] {
          const std::string log = nats_.log();
          const auto at = log.find("Subject \"" + subject);
          return at != std::string::npos && log.rfind("Publish Violation", at) != std::string::npos;
        },
        5s, 100ms))
        << "no publish violation logged for " << subject << "\n"
        << nats_.log();
  // A real sidecar with orders' user pointed at refunds gets nothing: refunds' 20 stay.
  ChildProcess spy = startSidecar("refunds", appPort, "spy");
  ASSERT_TRUE(eventually(
      [&] {
        const std::string log = readFile(dir_ + "/spy.out") + readFile(dir_ + "/spy.err");
        return log.find("ermission") != std::string::npos;
      },
      kConverge, 200ms))
      << readFile(dir_ + "/spy.out") << readFile(dir_ + "/spy.err");
  json c = consumerAsAdmin("refunds");
  EXPECT_EQ(c.value("num_pending", -1), 20) << c.dump();
  EXPECT_EQ(c.value("num_ack_pending", -1), 0) << c.dump();

  // No secret value anywhere a user or another tenant could read it.
  const std::string key = readFile(pki_ + "/client.key");
  const std::string keyLine = key.substr(key.find('\n') + 1, 40);  // (a line of the PEM body)
  auto cmdline = [](ChildProcess& p) {
    std::string s = readFile("/proc/" + std::to_string(p.pid()) + "/cmdline");
    std::replace(s.begin(), s.end(), '\0', ' ');
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> places = {
      {"channel status", kubectl({"get", "channels", "-o", "json"}).out},
      {"events", kubectl({"get", "events", "-o", "json"}).out},
      {"operator log", operatorLog()},
      {"operator metrics", operatorHttp("/metrics")},
      {"operator argv", cmdline(op_)},
      {"sidecar log",
       readFile(dir_ + "/orders-sidecar.out") + readFile(dir_ + "/orders-sidecar.err")},
      {"spy log", readFile(dir_ + "/spy.out") + readFile(dir_ + "/spy.err")},
      {"sidecar argv", cmdline(sidecar)},
      {"spy argv", cmdline(spy)}};
  for (const auto& [where, text] : places) {
    EXPECT_FALSE(text.empty()) << where << " is empty: the scan would prove nothing";
    for (const std::string& secret :
         {std::string(kAdminPassword), std::string(kOrdersPassword), keyLine})
      EXPECT_EQ(text.find(secret), std::string::npos) << "a secret value is in the " << where;
  }
  for (ChildProcess* p : {&spy, &sidecar, &app}) {
    p->signal(SIGTERM);
    if (!p->waitFor(20s)) p->kill();
  }
}

// The gateway's publishing connection over TLS: libnats may wait inside a TLS read or write, so
// it runs on a thread of its own rather than on the caller's io_context (loop_publisher.hpp).
TEST_F(NatsSecurityTest, TheGatewaysPublishingConnectionOverTlsRunsOnItsOwnThread) {
  nats::ConnectionOptions o;
  o.urls = {tlsUrl()};
  o.user = "admin";
  o.password = kAdminPassword;
  o.tls.caFile = pki_ + "/ca.crt";
  o.tls.certFile = pki_ + "/client.crt";
  o.tls.keyFile = pki_ + "/client.key";
  auto conn = nats::Connection::connect(o);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto js = nats::JetStream::create(conn.value());
  ASSERT_TRUE(js.ok());
  nats::StreamConfig sc;
  sc.name = "TLSPUB";
  sc.subjects = {"tlspub.>"};
  ASSERT_TRUE(js.value().addStream(sc).ok());

  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  std::thread::id ioThread;
  std::thread runner([&] {
    ioThread = std::this_thread::get_id();
    io.run();
  });
  auto publisher = nats::LoopPublisher::connect(o, io);
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  std::promise<std::pair<Result<nats::PublishAck>, std::thread::id>> answered;
  auto future = answered.get_future();
  publisher.value()->publish("tlspub.a", "over tls", "", {}, [&](Result<nats::PublishAck> r) {
    answered.set_value({std::move(r), std::this_thread::get_id()});
  });
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  auto [ack, thread] = future.get();
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack.value().stream, "TLSPUB");
  EXPECT_EQ(ack.value().sequence, 1u);
  EXPECT_NE(thread, ioThread);
  EXPECT_NE(thread, std::this_thread::get_id());
  publisher.value()->close();
  publisher.value().reset();
  work.reset();
  runner.join();
}

}  // namespace
}  // namespace osmosis
