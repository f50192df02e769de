#include "operator/channel/nats_connections.hpp"

#include <cstdio>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log/logger.hpp"
#include "operator/kube/config/rest_config.hpp"

namespace osmosis::channel {
namespace {

Error invalid(const std::string& m) {
  return makeError(Error::Code::kInvalidArgument, m);
}

Status writePrivate(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return makeError(Error::Code::kInternal, "cannot write " + path);
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) {
      ::close(fd);
      return makeError(Error::Code::kInternal, "cannot write " + path);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  return {};
}

}  // namespace

Result<SecretConnection> parseNatsSecret(const nlohmann::json& secret) {
  const std::string name = secret.contains("metadata") ? secret["metadata"].value("name", "") : "";
  const std::string what = "Secret " + name;
  std::map<std::string, std::string> data;
  if (secret.contains("data") && secret["data"].is_object()) {
    for (const auto& [k, v] : secret["data"].items()) {
      if (!v.is_string()) return invalid(what + ": data." + k + " is not a string");
      auto decoded = kube::base64Decode(v.get<std::string>());
      if (!decoded) return invalid(what + ": data." + k + " is not base64");
      data[k] = decoded.value();
    }
  }
  SecretConnection out;
  auto take = [&](const char* key) { return data.count(key) ? data[key] : std::string(); };
  std::string url = take("url");
  if (url.empty())
    return invalid(what + " has no \"url\" key (for example nats://nats.nats-system:4222)");
  out.options.urls = nats::splitUrls(url);
  out.options.token = take("token");
  out.options.user = take("user");
  out.options.password = take("password");
  for (const char* key : {"creds", "ca.crt", "tls.crt", "tls.key"}) {
    if (!take(key).empty()) out.files[key] = take(key);
  }
  if (out.files.count("creds") &&
      (out.files["creds"].find("BEGIN NATS USER JWT") == std::string::npos ||
       out.files["creds"].find("BEGIN USER NKEY SEED") == std::string::npos)) {
    return invalid(what +
                   ": creds is not a NATS credentials file (it needs a user JWT and an "
                   "NKey seed, as `nsc generate creds` writes)");
  }
  // Check with placeholder paths so the same rules apply as to flags.
  nats::ConnectionOptions check = out.options;
  if (out.files.count("creds")) check.credsFile = "creds";
  if (out.files.count("ca.crt")) check.tls.caFile = "ca.crt";
  if (out.files.count("tls.crt")) check.tls.certFile = "tls.crt";
  if (out.files.count("tls.key")) check.tls.keyFile = "tls.key";
  if (auto problems = nats::validate(check); !problems.empty())
    return invalid(what + ": " + problems.front());
  return out;
}

NatsConnections::NatsConnections(nats::ConnectionOptions defaults, std::string privateDir)
    : defaults_(std::move(defaults)), dir_(std::move(privateDir)) {}

size_t NatsConnections::size() const {
  std::lock_guard lock(mu_);
  return pool_.size();
}

Result<std::shared_ptr<nats::JetStream>> NatsConnections::get(
    const std::optional<SecretConnection>& secret) {
  if (!secret) return connect("default", defaults_);
  // The key covers every setting, so an edited Secret gets a new connection.
  std::string material;
  for (const auto& u : secret->options.urls)
    material += u + ",";
  material +=
      "|" + secret->options.token + "|" + secret->options.user + "|" + secret->options.password;
  for (const auto& [k, v] : secret->files)
    material += "|" + k + "=" + v;
  char key[32];
  std::snprintf(key, sizeof key, "s%016zx", std::hash<std::string>{}(material));
  {
    std::lock_guard lock(mu_);
    if (auto it = pool_.find(key); it != pool_.end()) return it->second;
  }
  nats::ConnectionOptions options = secret->options;
  if (!secret->files.empty()) {
    std::string dir = dir_ + "/" + key;
    ::mkdir(dir.c_str(), 0700);
    for (const auto& [name, content] : secret->files) {
      std::string path = dir + "/" + name;
      if (auto st = writePrivate(path, content); !st) return st.error();
      if (name == "creds") options.credsFile = path;
      if (name == "ca.crt") options.tls.caFile = path;
      if (name == "tls.crt") options.tls.certFile = path;
      if (name == "tls.key") options.tls.keyFile = path;
    }
  }
  return connect(key, options);
}

Result<std::shared_ptr<nats::JetStream>> NatsConnections::connect(const std::string& key,
                                                                  nats::ConnectionOptions options) {
  {
    std::lock_guard lock(mu_);
    if (auto it = pool_.find(key); it != pool_.end()) return it->second;
  }
  options.name = "osmosis-operator";
  options.connectTimeout = std::chrono::milliseconds(2000);
  auto conn = nats::Connection::connect(options);
  if (!conn) return conn.error();
  auto js = nats::JetStream::create(conn.value(), std::chrono::seconds(3));
  if (!js) return js.error();
  auto shared = std::make_shared<nats::JetStream>(std::move(js.value()));
  log::info("connected to NATS", {{"connection", key}, {"url", conn.value()->connectedUrl()}});
  std::lock_guard lock(mu_);
  return pool_.emplace(key, shared).first->second;
}

Result<std::shared_ptr<nats::JetStream>> connectionFor(kube::Client& client, NatsConnections& pool,
                                                       const std::string& ns,
                                                       const std::string& secretName) {
  if (secretName.empty()) return pool.get(std::nullopt);
  auto secret = client.get(kube::resources::secrets(), ns, secretName);
  if (!secret) {
    if (kube::isNotFound(secret.error())) {
      return makeError(Error::Code::kNotFound,
                       "Secret " + ns + "/" + secretName + " (spec.nats.secretRef) not found");
    }
    return secret.error();
  }
  auto parsed = parseNatsSecret(secret.value());
  if (!parsed) return parsed.error();
  return pool.get(parsed.value());
}

}  // namespace osmosis::channel
