#include "operator/channel/sidecar_injection.hpp"

#include <cstdlib>

#include "common/contract/gateway_contract.hpp"
#include "common/contract/sidecar_contract.hpp"
#include "common/util/duration.hpp"
#include "operator/api/naming.hpp"

namespace osmosis::channel {

using nlohmann::json;

bool injectable(const ScaleTargetRef& t) {
  return (t.apiVersion == "apps/v1" || t.apiVersion.rfind("apps/", 0) == 0) &&
         (t.kind == "Deployment" || t.kind == "StatefulSet" || t.kind == "ReplicaSet" ||
          t.kind == "DaemonSet");
}

namespace {

// Where the Channel Secret's files appear in the sidecar.
constexpr const char* kNatsVolume = "osmosis-nats";
constexpr const char* kNatsMountPath = "/etc/osmosis/nats";

json fieldEnv(const char* name, const char* fieldPath) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", fieldPath}}}}}};
}

json secretEnv(const char* name, const std::string& secret, const char* key) {
  return {{"name", name}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

json resources(const InjectionSettings& s) {
  json requests = json::object(), limits = json::object();
  if (!s.cpuRequest.empty()) requests["cpu"] = s.cpuRequest;
  if (!s.memoryRequest.empty()) requests["memory"] = s.memoryRequest;
  if (!s.cpuLimit.empty()) limits["cpu"] = s.cpuLimit;
  if (!s.memoryLimit.empty()) limits["memory"] = s.memoryLimit;
  json r = json::object();
  if (!requests.empty()) r["requests"] = requests;
  if (!limits.empty()) r["limits"] = limits;
  return r;
}

}  // namespace

json injectionApply(const ScaleTargetRef& target, const std::string& ns, const std::string& name,
                    const ChannelSpec& spec, const std::set<std::string>& secretKeys,
                    const InjectionSettings& settings) {
  json env = json::array({
      fieldEnv("POD_NAME", "metadata.name"),
      fieldEnv(contract::kEnvPodName, "metadata.name"),
      {{"name", contract::kEnvNamespace}, {"value", ns}},
      {{"name", contract::kEnvChannel}, {"value", name}},
      {{"name", contract::kEnvStream}, {"value", spec.stream.name}},
      {{"name", contract::kEnvConsumer}, {"value", spec.consumer.durable}},
      {{"name", contract::kEnvAppPort}, {"value", std::to_string(spec.appPort)}},
      {{"name", contract::kEnvAppPath}, {"value", spec.appPath}},
      {{"name", contract::kEnvAckWait}, {"value", formatDuration(spec.consumer.ackWait)}},
      {{"name", contract::kEnvListen}, {"value", "0.0.0.0:" + std::to_string(settings.healthPort)}},
  });
  if (!settings.reportSubjectPrefix.empty())
    env.push_back(
        {{"name", contract::kEnvReportSubjectPrefix}, {"value", settings.reportSubjectPrefix}});
  if (!spec.deadLetterSubject.empty())
    env.push_back({{"name", contract::kEnvDeadLetterSubject}, {"value", spec.deadLetterSubject}});
  // Left out while the gateway is off: applying without it removes it, and the sidecar then
  // publishes no events (plain NATS publishers pay nothing either way).
  if (spec.gateway.enabled)
    env.push_back({{"name", contract::gateway::kEnvResults}, {"value", "true"}});
  json volumeMounts = json::array();
  json volumes = json::array();
  if (!spec.natsSecret.empty()) {
    // The Channel's own connection, every secret value by reference (issue 16, item 9): the
    // Deployment never holds a credential, only the name of the Secret that does.
    env.push_back(secretEnv(contract::kEnvNatsUrl, spec.natsSecret, "url"));
    for (auto [key, var] :
         {std::pair{"token", contract::kEnvNatsToken}, std::pair{"user", contract::kEnvNatsUser},
          std::pair{"password", contract::kEnvNatsPassword}}) {
      if (secretKeys.count(key)) env.push_back(secretEnv(var, spec.natsSecret, key));
    }
    json items = json::array();
    for (auto [key, var] :
         {std::pair{"creds", contract::kEnvNatsCreds}, std::pair{"ca.crt", contract::kEnvNatsTlsCa},
          std::pair{"tls.crt", contract::kEnvNatsTlsCert},
          std::pair{"tls.key", contract::kEnvNatsTlsKey}}) {
      if (!secretKeys.count(key)) continue;
      items.push_back({{"key", key}, {"path", key}});
      env.push_back({{"name", var}, {"value", std::string(kNatsMountPath) + "/" + key}});
    }
    if (!items.empty()) {
      volumes.push_back(
          {{"name", kNatsVolume}, {"secret", {{"secretName", spec.natsSecret}, {"items", items}}}});
      volumeMounts.push_back(
          {{"name", kNatsVolume}, {"mountPath", kNatsMountPath}, {"readOnly", true}});
    }
  } else {
    env.push_back({{"name", contract::kEnvNatsUrl}, {"value", settings.natsUrl}});
  }
  json probe = {{"httpGet", {{"path", "/readyz"}, {"port", settings.healthPort}}},
                {"periodSeconds", 2}};
  json container = {
      {"name", kSidecarContainerName},
      {"image", settings.image},
      {"env", env},
      {"ports",
       json::array({{{"name", "osmosis-health"}, {"containerPort", settings.healthPort}}})},
      {"readinessProbe", probe},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", settings.healthPort}}}, {"periodSeconds", 10}}},
      {"resources", resources(settings)},
      // The restricted Pod Security Standard, whatever the worker's pod says: the sidecar
      // runs as the image's non-root UID and writes nothing to its root filesystem.
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}}};
  if (!volumeMounts.empty()) container["volumeMounts"] = volumeMounts;
  json podSpec = json::object();
  if (settings.nativeSidecar) {
    container["restartPolicy"] = "Always";
    podSpec["initContainers"] = json::array({container});
  } else {
    podSpec["containers"] = json::array({container});
  }
  if (!volumes.empty()) podSpec["volumes"] = volumes;
  return {{"apiVersion", target.apiVersion},
          {"kind", target.kind},
          {"metadata", {{"name", target.name}, {"namespace", ns}}},
          {"spec", {{"template", {{"spec", podSpec}}}}}};
}

json injectionRemoval(const ScaleTargetRef& target, const std::string& ns) {
  return {{"apiVersion", target.apiVersion},
          {"kind", target.kind},
          {"metadata", {{"name", target.name}, {"namespace", ns}}}};
}

bool supportsNativeSidecars(const json& version) {
  if (!version.is_object()) return false;
  int major = std::atoi(version.value("major", "0").c_str());
  int minor = std::atoi(version.value("minor", "0").c_str());  // "35+" reads as 35
  return major > 1 || (major == 1 && minor >= 29);
}

}  // namespace osmosis::channel
