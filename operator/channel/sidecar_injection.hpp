#pragma once

// Sidecar injection, pure: the server-side-apply body that puts osmosis-sidecar into the scale
// target's pod template (as a native sidecar, an init container with restartPolicy Always,
// where the cluster supports it: Kubernetes 1.29 and later), and the body that takes it out
// again. Applied under its own field manager, so it owns exactly the fields it sets and an
// apply without them removes them, leaving the user's containers alone.

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "operator/api/spec.hpp"

namespace osmosis::channel {

using api::ChannelSpec;
using api::ScaleTargetRef;

inline constexpr const char* kInjectorFieldManager = "osmosis-injector";
inline constexpr const char* kSidecarContainerName = "osmosis-sidecar";

struct InjectionSettings {
  std::string image;    // e.g. ghcr.io/osmosis/osmosis-sidecar:0.1.0
  std::string natsUrl;  // what the pods use when the Channel has no Secret (no credentials)
  std::string reportSubjectPrefix;  // empty: the sidecar's default
  bool nativeSidecar = true;
  int healthPort = 8081;
  // Kubernetes quantities for the sidecar container; an empty one is left out.
  std::string cpuRequest = "50m";
  std::string memoryRequest = "16Mi";
  std::string cpuLimit;
  std::string memoryLimit = "64Mi";
};

// Only resources with a pod template at spec.template can be injected.
bool injectable(const ScaleTargetRef& target);

// The apply body with the sidecar (namespace `ns`, Channel `name`). `secretKeys`: the keys the
// Channel's NATS Secret has (token, user, password, creds, ca.crt, tls.crt, tls.key); the
// sidecar gets each by reference (secretKeyRef, a Secret volume), never as a value.
nlohmann::json injectionApply(const ScaleTargetRef& target, const std::string& ns,
                              const std::string& name, const ChannelSpec& spec,
                              const std::set<std::string>& secretKeys,
                              const InjectionSettings& settings);

// The apply body without it: applying it under kInjectorFieldManager removes the sidecar.
nlohmann::json injectionRemoval(const ScaleTargetRef& target, const std::string& ns);

// Does the server's version ("v1.35.4", major "1", minor "35+") support native sidecars?
bool supportsNativeSidecars(const nlohmann::json& version);

}  // namespace osmosis::channel
