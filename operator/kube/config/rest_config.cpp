#include "operator/kube/config/rest_config.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace osmosis::kube {
namespace {

Error invalid(const std::string& msg) {
  return makeError(Error::Code::kInvalidArgument, msg);
}

// A named entry (cluster, user or context) and the directory of the file that defined it.
struct Entry {
  YAML::Node node;
  std::string dir;
};

std::string resolve(const std::string& path, const std::string& dir) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(dir) / path).lexically_normal().string();
}

std::string scalar(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap() || !n[key] || !n[key].IsScalar()) return "";
  return n[key].as<std::string>();
}

// Reads "<field>-data" (base64) or "<field>" (a file); the data form wins, as in kubectl.
Result<std::string> material(const Entry& e, const std::string& field, const FileReader& read,
                             const std::string& what) {
  std::string data = scalar(e.node, (field + "-data").c_str());
  if (!data.empty()) {
    auto decoded = base64Decode(data);
    if (!decoded) return invalid(what + ": " + field + "-data is not valid base64");
    return decoded.value();
  }
  std::string file = scalar(e.node, field.c_str());
  if (file.empty()) return std::string();
  auto content = read(resolve(file, e.dir));
  if (!content) return invalid(what + ": " + content.error().message);
  return content.value();
}

}  // namespace

Result<std::string> readFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(Error::Code::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string getEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

std::vector<std::string> kubeconfigPaths(const EnvReader& env) {
  std::vector<std::string> out;
  std::string list = env("KUBECONFIG");
  if (!list.empty()) {
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ':')) {
      if (!item.empty()) out.push_back(item);
    }
    return out;
  }
  std::string home = env("HOME");
  if (!home.empty()) out.push_back(home + "/.kube/config");
  return out;
}

namespace {

// Every kubeconfig file's clusters, users and contexts, merged as kubectl does (the first
// definition of a name wins; so does the first current-context).
struct MergedKubeconfig {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current;
};

Status mergeOne(const std::string& path, const std::string& text, MergedKubeconfig& into,
                int& loaded) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid("kubeconfig " + path + " is not valid YAML: " + e.what());
  }
  if (root.IsNull()) return {};  // an empty file is allowed
  if (!root.IsMap()) return invalid("kubeconfig " + path + " is not a YAML mapping");
  ++loaded;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  auto collect = [&](const char* listKey, const char* itemKey,
                     std::map<std::string, Entry>& entries) -> Status {
    const YAML::Node list = root[listKey];
    if (!list) return {};
    if (!list.IsSequence())
      return invalid("kubeconfig " + path + ": " + listKey + " must be a list");
    for (const auto& item : list) {
      std::string name = scalar(item, "name");
      if (name.empty())
        return invalid("kubeconfig " + path + ": an entry of " + listKey + " has no name");
      if (!item[itemKey] || !item[itemKey].IsMap()) {
        return invalid("kubeconfig " + path + ": " + listKey + " entry \"" + name + "\" has no " +
                       itemKey);
      }
      entries.try_emplace(name, Entry{item[itemKey], dir});  // first definition wins
    }
    return {};
  };
  try {
    if (auto s = collect("clusters", "cluster", into.clusters); !s) return s;
    if (auto s = collect("users", "user", into.users); !s) return s;
    if (auto s = collect("contexts", "context", into.contexts); !s) return s;
    if (into.current.empty()) into.current = scalar(root, "current-context");
  } catch (const YAML::Exception& e) {
    return invalid("kubeconfig " + path + ": " + e.what());
  }
  return {};
}

Result<MergedKubeconfig> mergeKubeconfigs(const std::vector<std::string>& paths,
                                          const FileReader& read) {
  if (paths.empty()) return invalid("no kubeconfig file given (set --kubeconfig or KUBECONFIG)");
  MergedKubeconfig merged;
  int loaded = 0;
  for (const auto& path : paths) {
    auto text = read(path);
    if (!text) {
      // kubectl skips missing files in a KUBECONFIG list, but not when it is the only one.
      if (paths.size() > 1 && text.error().code == Error::Code::kNotFound) continue;
      return invalid("kubeconfig: " + text.error().message);
    }
    if (auto st = mergeOne(path, text.value(), merged, loaded); !st) return st.error();
  }
  if (loaded == 0) return invalid("no usable kubeconfig among the files given");
  return merged;
}

// The server, its CA and the default namespace, from the context's cluster.
Status applyCluster(const Entry& cluster, const std::string& clusterName, const Entry& ctx,
                    const FileReader& read, RestConfig& cfg) {
  cfg.server = scalar(cluster.node, "server");
  if (cfg.server.rfind("https://", 0) != 0 && cfg.server.rfind("http://", 0) != 0) {
    return invalid("cluster \"" + clusterName + "\" has no valid server URL (got \"" + cfg.server +
                   "\")");
  }
  while (!cfg.server.empty() && cfg.server.back() == '/')
    cfg.server.pop_back();
  cfg.insecureSkipTlsVerify = scalar(cluster.node, "insecure-skip-tls-verify") == "true";
  cfg.tlsServerName = scalar(cluster.node, "tls-server-name");
  auto ca = material(cluster, "certificate-authority", read, "cluster \"" + clusterName + "\"");
  if (!ca) return ca.error();
  cfg.caPem = ca.value();
  if (std::string ns = scalar(ctx.node, "namespace"); !ns.empty()) cfg.defaultNamespace = ns;
  return {};
}

// The client certificate or token, from the context's user.
Status applyUser(const Entry& user, const std::string& userName, const FileReader& read,
                 RestConfig& cfg) {
  const std::string what = "user \"" + userName + "\"";
  if (user.node["exec"] || user.node["auth-provider"]) {
    return invalid(what +
                   " uses an exec or auth-provider credential plugin, which osmosis-operator does "
                   "not run; use a client certificate or a token");
  }
  auto cert = material(user, "client-certificate", read, what);
  if (!cert) return cert.error();
  auto key = material(user, "client-key", read, what);
  if (!key) return key.error();
  cfg.clientCertPem = cert.value();
  cfg.clientKeyPem = key.value();
  if (cfg.clientCertPem.empty() != cfg.clientKeyPem.empty()) {
    return invalid(what +
                   " has a client certificate without a key, or a key without a certificate");
  }
  cfg.token = scalar(user.node, "token");
  if (std::string tf = scalar(user.node, "tokenFile"); !tf.empty())
    cfg.tokenFile = resolve(tf, user.dir);
  return {};
}

}  // namespace

Result<RestConfig> loadKubeconfig(const std::vector<std::string>& paths, const std::string& context,
                                  const FileReader& read) {
  auto merged = mergeKubeconfigs(paths, read);
  if (!merged) return merged.error();
  const std::string ctxName = context.empty() ? merged->current : context;
  if (ctxName.empty()) return invalid("kubeconfig has no current-context; pass --context");
  auto ctx = merged->contexts.find(ctxName);
  if (ctx == merged->contexts.end())
    return invalid("kubeconfig has no context named \"" + ctxName + "\"");
  const std::string clusterName = scalar(ctx->second.node, "cluster");
  const std::string userName = scalar(ctx->second.node, "user");
  auto cluster = merged->clusters.find(clusterName);
  if (cluster == merged->clusters.end()) {
    return invalid("context \"" + ctxName + "\" names cluster \"" + clusterName +
                   "\", which is not defined");
  }
  RestConfig cfg;
  cfg.source = "kubeconfig (context " + ctxName + ")";
  if (auto st = applyCluster(cluster->second, clusterName, ctx->second, read, cfg); !st)
    return st.error();
  if (!userName.empty()) {
    auto user = merged->users.find(userName);
    if (user == merged->users.end()) {
      return invalid("context \"" + ctxName + "\" names user \"" + userName +
                     "\", which is not defined");
    }
    if (auto st = applyUser(user->second, userName, read, cfg); !st) return st.error();
  }
  return cfg;
}

Result<RestConfig> inClusterConfig(const EnvReader& env, const FileReader& read,
                                   const std::string& saDir) {
  std::string host = env("KUBERNETES_SERVICE_HOST");
  std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return invalid(
        "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig");
  }
  RestConfig cfg;
  cfg.source = "in-cluster";
  // IPv6 service addresses need brackets in a URL.
  cfg.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  cfg.tokenFile = saDir + "/token";
  auto token = read(cfg.tokenFile);
  if (!token) return invalid("in-cluster service-account token: " + token.error().message);
  auto ca = read(saDir + "/ca.crt");
  if (!ca) return invalid("in-cluster CA: " + ca.error().message);
  cfg.caPem = ca.value();
  if (auto ns = read(saDir + "/namespace"); ns && !ns.value().empty())
    cfg.defaultNamespace = ns.value();
  return cfg;
}

Result<RestConfig> restConfigFor(const std::string& kubeconfig, const std::string& context) {
  if (kubeconfig.empty()) return inClusterConfig();
  std::vector<std::string> paths;
  std::stringstream ss(kubeconfig);
  for (std::string p; std::getline(ss, p, ':');) {
    if (!p.empty()) paths.push_back(p);
  }
  return loadKubeconfig(paths, context);
}

Result<std::string> base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding) return invalid("base64: data after padding");
    int v = value(c);
    if (v < 0) return invalid("base64: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return invalid("base64: truncated input");
  return out;
}

}  // namespace osmosis::kube
