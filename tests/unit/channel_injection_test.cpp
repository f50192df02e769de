// The sidecar injection bodies (server-side apply), pure.

#include <map>

#include <gtest/gtest.h>

#include "common/contract/gateway_contract.hpp"
#include "operator/channel/sidecar_injection.hpp"

namespace osmosis::channel {
namespace {

using api::describe;
using api::parseChannel;
using api::ParsedChannel;

using nlohmann::json;

ChannelSpec spec() {
  ParsedChannel p = parseChannel({{"metadata", {{"namespace", "shop"}, {"name", "orders"}}},
                                  {"spec",
                                   {{"worker",
                                     {{"scaleTargetRef", {{"name", "worker"}}},
                                      {"injectSidecar", true},
                                      {"app", {{"port", 9000}, {"path", "/in"}}}}},
                                    {"consumer", {{"deadLetterSubject", "dead.orders"}}}}}});
  EXPECT_TRUE(p.problems.empty()) << describe(p.problems);
  return p.spec;
}

InjectionSettings settings(const std::string& image, const std::string& natsUrl,
                           bool native = true) {
  InjectionSettings s;
  s.image = image;
  s.natsUrl = natsUrl;
  s.nativeSidecar = native;
  return s;
}

std::string envValue(const json& container, const std::string& name) {
  for (const auto& e : container["env"])
    if (e["name"] == name) return e.contains("value") ? e["value"].get<std::string>() : "<ref>";
  return "";
}

// The sidecar publishes request events (issue 14) only while the Channel's gateway is on; off,
// the variable is left out of the apply, which removes it from the pod template.
TEST(SidecarInjection, ResultsAreSwitchedOnWithTheGatewayAndOffWithout) {
  const char* results = contract::gateway::kEnvResults;
  ASSERT_STREQ(results, "OSMOSIS_RESULTS");
  ChannelSpec s = spec();
  json off = injectionApply(*s.scaleTarget, "shop", "orders", s, {}, settings("img:1", "nats://n"));
  EXPECT_EQ(envValue(off["spec"]["template"]["spec"]["initContainers"][0], results), "");
  s.gateway.enabled = true;
  for (bool native : {true, false}) {
    json on = injectionApply(*s.scaleTarget, "shop", "orders", s, {},
                             settings("img:1", "nats://n", native));
    const json& pod = on["spec"]["template"]["spec"];
    const json& c = native ? pod["initContainers"][0] : pod["containers"][0];
    EXPECT_EQ(envValue(c, results), "true") << "native " << native;
    int count = 0;
    for (const auto& e : c["env"])
      count += e["name"] == results ? 1 : 0;
    EXPECT_EQ(count, 1);
  }
}

TEST(SidecarInjection, NativeSidecarIsAnInitContainerThatAlwaysRestarts) {
  json body = injectionApply(*spec().scaleTarget, "shop", "orders", spec(), {},
                             settings("img:1", "nats://nats:4222"));
  EXPECT_EQ(body["apiVersion"], "apps/v1");
  EXPECT_EQ(body["kind"], "Deployment");
  EXPECT_EQ(body["metadata"]["name"], "worker");
  EXPECT_EQ(body["metadata"]["namespace"], "shop");
  const json& pod = body["spec"]["template"]["spec"];
  EXPECT_FALSE(pod.contains("containers")) << "the user's containers are not touched";
  ASSERT_EQ(pod["initContainers"].size(), 1u);
  const json& c = pod["initContainers"][0];
  EXPECT_EQ(c["name"], "osmosis-sidecar");
  EXPECT_EQ(c["image"], "img:1");
  EXPECT_EQ(c["restartPolicy"], "Always");
  EXPECT_EQ(envValue(c, "OSMOSIS_CHANNEL"), "orders");
  EXPECT_EQ(envValue(c, "OSMOSIS_NAMESPACE"), "shop");
  EXPECT_EQ(envValue(c, "OSMOSIS_STREAM"), "SHOP_ORDERS");
  EXPECT_EQ(envValue(c, "OSMOSIS_CONSUMER"), "workers");
  EXPECT_EQ(envValue(c, "OSMOSIS_APP_PORT"), "9000");
  EXPECT_EQ(envValue(c, "OSMOSIS_APP_PATH"), "/in");
  EXPECT_EQ(envValue(c, "OSMOSIS_ACK_WAIT"), "30s");
  EXPECT_EQ(envValue(c, "OSMOSIS_DEAD_LETTER_SUBJECT"), "dead.orders");
  EXPECT_EQ(envValue(c, "OSMOSIS_NATS_URL"), "nats://nats:4222");
  EXPECT_EQ(envValue(c, "POD_NAME"), "<ref>");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  // The restricted Pod Security Standard, and the default resources.
  const json& sc = c["securityContext"];
  EXPECT_EQ(sc["runAsNonRoot"], true);
  EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
  EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
  EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(sc["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(
      c["resources"],
      json::parse(R"({"requests":{"cpu":"50m","memory":"16Mi"},"limits":{"memory":"64Mi"}})"));
}

TEST(SidecarInjection, ResourcesComeFromSettingsAndEmptyOnesAreLeftOut) {
  InjectionSettings s = settings("img:1", "nats://nats:4222");
  s.cpuRequest = "";
  s.memoryRequest = "32Mi";
  s.cpuLimit = "1";
  s.memoryLimit = "";
  json body = injectionApply(*spec().scaleTarget, "shop", "orders", spec(), {}, s);
  const json& c = body["spec"]["template"]["spec"]["initContainers"][0];
  EXPECT_EQ(c["resources"], json::parse(R"({"requests":{"memory":"32Mi"},"limits":{"cpu":"1"}})"));
  s.memoryRequest = "";
  s.cpuLimit = "";
  body = injectionApply(*spec().scaleTarget, "shop", "orders", spec(), {}, s);
  EXPECT_EQ(body["spec"]["template"]["spec"]["initContainers"][0]["resources"], json::object());
}

TEST(SidecarInjection, OlderClustersGetAPlainContainerAndSecretsGiveTheUrl) {
  ChannelSpec sp = spec();
  sp.natsSecret = "nats-conn";
  json body =
      injectionApply(*sp.scaleTarget, "shop", "orders", sp, {"url"}, settings("img:1", "x", false));
  const json& pod = body["spec"]["template"]["spec"];
  EXPECT_FALSE(pod.contains("initContainers"));
  ASSERT_EQ(pod["containers"].size(), 1u);
  EXPECT_FALSE(pod["containers"][0].contains("restartPolicy"));
  for (const auto& e : pod["containers"][0]["env"]) {
    if (e["name"] == "OSMOSIS_NATS_URL") {
      EXPECT_EQ(e["valueFrom"]["secretKeyRef"], (json{{"name", "nats-conn"}, {"key", "url"}}));
    }
  }
}

// Hostile input (issue 16, item 9): the Deployment holds no credential, only references to the
// Channel's Secret; keys the Secret lacks are not referenced (the sidecar would not start).
TEST(SidecarInjection, CredentialsOnlyEverByReferenceToTheChannelsSecret) {
  ChannelSpec sp = spec();
  sp.natsSecret = "nats-conn";
  json body = injectionApply(*sp.scaleTarget, "shop", "orders", sp,
                             {"url", "user", "password", "creds", "ca.crt"},
                             settings("img:1", "nats://default:4222"));
  const json& pod = body["spec"]["template"]["spec"];
  const json& c = pod["initContainers"][0];
  std::map<std::string, json> env;
  for (const auto& e : c["env"])
    env[e["name"].get<std::string>()] = e;
  for (auto [var, key] :
       {std::pair{"OSMOSIS_NATS_URL", "url"}, std::pair{"OSMOSIS_NATS_USER", "user"},
        std::pair{"OSMOSIS_NATS_PASSWORD", "password"}}) {
    ASSERT_TRUE(env.count(var)) << var;
    EXPECT_FALSE(env[var].contains("value")) << var << " must not be a plain value";
    EXPECT_EQ(env[var]["valueFrom"]["secretKeyRef"], (json{{"name", "nats-conn"}, {"key", key}}));
  }
  EXPECT_FALSE(env.count("OSMOSIS_NATS_TOKEN")) << "the Secret has no token";
  EXPECT_EQ(env["OSMOSIS_NATS_CREDS"]["value"], "/etc/osmosis/nats/creds");
  EXPECT_EQ(env["OSMOSIS_NATS_TLS_CA"]["value"], "/etc/osmosis/nats/ca.crt");
  EXPECT_FALSE(env.count("OSMOSIS_NATS_TLS_CERT"));
  ASSERT_EQ(pod["volumes"].size(), 1u);
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "nats-conn");
  EXPECT_EQ(pod["volumes"][0]["secret"]["items"].size(), 2u);
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/etc/osmosis/nats");
  EXPECT_TRUE(c["volumeMounts"][0]["readOnly"].get<bool>());
  EXPECT_EQ(body.dump().find("nats://default"), std::string::npos)
      << "the operator's default URL is not used for a Channel with its own Secret";
}

TEST(SidecarInjection, RemovalIsAnApplyWithNothingOwned) {
  ScaleTargetRef t{"apps/v1", "StatefulSet", "db"};
  EXPECT_EQ(injectionRemoval(t, "shop"),
            (json{{"apiVersion", "apps/v1"},
                  {"kind", "StatefulSet"},
                  {"metadata", {{"name", "db"}, {"namespace", "shop"}}}}));
}

TEST(SidecarInjection, WhatCanBeInjectedAndWhereNativeSidecarsExist) {
  EXPECT_TRUE(injectable({"apps/v1", "Deployment", "x"}));
  EXPECT_TRUE(injectable({"apps/v1", "StatefulSet", "x"}));
  EXPECT_FALSE(injectable({"example.com/v1", "Worker", "x"}));
  EXPECT_TRUE(supportsNativeSidecars({{"major", "1"}, {"minor", "35"}}));
  EXPECT_TRUE(supportsNativeSidecars({{"major", "1"}, {"minor", "29+"}}));
  EXPECT_FALSE(supportsNativeSidecars({{"major", "1"}, {"minor", "28"}}));
  EXPECT_FALSE(supportsNativeSidecars(json()));
}

}  // namespace
}  // namespace osmosis::channel
