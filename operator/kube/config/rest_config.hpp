#pragma once

// How to reach and authenticate to the API server. Certificates and keys are held in memory
// as PEM, never written to disk.

#include <functional>
#include <string>
#include <vector>

#include "common/util/result.hpp"

namespace osmosis::kube {

struct RestConfig {
  std::string server;  // https://host:port
  std::string caPem;   // CA bundle to trust; empty: the system's
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string token;      // a static bearer token
  std::string tokenFile;  // a token file re-read about once a minute (service accounts rotate)
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;
  std::string defaultNamespace = "default";
  std::string
      source;  // where this came from, for messages: "kubeconfig /x (context y)" or "in-cluster"
};

using FileReader = std::function<Result<std::string>(const std::string& path)>;
using EnvReader = std::function<std::string(const std::string& name)>;

// Real file and environment access.
Result<std::string> readFileToString(const std::string& path);
std::string getEnv(const std::string& name);

// The kubeconfig files to merge: $KUBECONFIG (colon-separated) or ~/.kube/config.
std::vector<std::string> kubeconfigPaths(const EnvReader& env);

// Loads and merges kubeconfig files the way kubectl does (the first file to define a name
// wins; the first current-context wins; relative paths are relative to the defining file),
// then resolves `context` (empty: current-context).
Result<RestConfig> loadKubeconfig(const std::vector<std::string>& paths, const std::string& context,
                                  const FileReader& read = readFileToString);

// In-cluster: KUBERNETES_SERVICE_HOST/PORT and the mounted service-account token, CA and namespace.
Result<RestConfig> inClusterConfig(
    const EnvReader& env = getEnv, const FileReader& read = readFileToString,
    const std::string& saDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// What a binary's --kubeconfig / --context flags ask for: `kubeconfig` a colon-separated list
// of files (as KUBECONFIG), empty for the in-cluster config.
Result<RestConfig> restConfigFor(const std::string& kubeconfig, const std::string& context);

// Pure helper: standard base64 (the *-data fields).
Result<std::string> base64Decode(const std::string& in);

}  // namespace osmosis::kube
