#include "operator/channel/sidecar_injection.hpp"

#include <cstdlib>

#include "common/util/duration.hpp"
#include "operator/channel/naming.hpp"

namespace osmosis::channel {

using nlohmann::json;

bool injectable(const ScaleTargetRef& t) {
  return (t.apiVersion == "apps/v1" || t.apiVersion.rfind("apps/", 0) == 0) &&
         (t.kind == "Deployment" || t.kind == "StatefulSet" || t.kind == "ReplicaSet" ||
          t.kind == "DaemonSet");
}

json injectionApply(const ScaleTargetRef& target, const std::string& ns, const std::string& name,
                    const ChannelSpec& spec, const InjectionSettings& settings) {
  json env = json::array({
      {{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "OSMOSIS_POD_NAME"},
       {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "OSMOSIS_NAMESPACE"}, {"value", ns}},
      {{"name", "OSMOSIS_CHANNEL"}, {"value", name}},
      {{"name", "OSMOSIS_STREAM"}, {"value", spec.stream.name}},
      {{"name", "OSMOSIS_CONSUMER"}, {"value", spec.consumer.durable}},
      {{"name", "OSMOSIS_APP_PORT"}, {"value", std::to_string(spec.appPort)}},
      {{"name", "OSMOSIS_APP_PATH"}, {"value", spec.appPath}},
      {{"name", "OSMOSIS_ACK_WAIT"}, {"value", formatDuration(spec.consumer.ackWait)}},
      {{"name", "OSMOSIS_LISTEN"}, {"value", "0.0.0.0:" + std::to_string(settings.healthPort)}},
  });
  if (!spec.deadLetterSubject.empty())
    env.push_back({{"name", "OSMOSIS_DEAD_LETTER_SUBJECT"}, {"value", spec.deadLetterSubject}});
  if (!spec.natsSecret.empty()) {
    // The Channel's own connection: the URL from its Secret (credentials stay for the user to
    // mount; the sidecar takes --nats-creds and the like as flags).
    env.push_back({{"name", "OSMOSIS_NATS_URL"},
                   {"valueFrom", {{"secretKeyRef", {{"name", spec.natsSecret}, {"key", "url"}}}}}});
  } else {
    env.push_back({{"name", "OSMOSIS_NATS_URL"}, {"value", settings.natsUrl}});
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
      {"resources",
       {{"requests", {{"cpu", "50m"}, {"memory", "16Mi"}}}, {"limits", {{"memory", "64Mi"}}}}}};
  json podSpec = json::object();
  if (settings.nativeSidecar) {
    container["restartPolicy"] = "Always";
    podSpec["initContainers"] = json::array({container});
  } else {
    podSpec["containers"] = json::array({container});
  }
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
