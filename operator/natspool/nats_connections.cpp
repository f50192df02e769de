#include "operator/natspool/nats_connections.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log/logger.hpp"
#include "common/nats/jetstream.hpp"
#include "common/util/redact.hpp"
#include "operator/kube/config/rest_config.hpp"

namespace osmosis::natspool {
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

// The text between a PEM-style BEGIN/END pair ("NATS USER JWT", "USER NKEY SEED"), trimmed.
std::optional<std::string> block(const std::string& text, const std::string& label) {
  const std::string begin = "-----BEGIN " + label + "-----";
  const std::string end = "------END " + label + "------";
  size_t b = text.find(begin);
  if (b == std::string::npos) return std::nullopt;
  b += begin.size();
  // nsc writes "------END ...------" (six dashes); accept five too.
  size_t e = text.find(end, b);
  if (e == std::string::npos) e = text.find("-----END " + label + "-----", b);
  if (e == std::string::npos) return std::nullopt;
  std::string inner = text.substr(b, e - b);
  const size_t first = inner.find_first_not_of(" \t\r\n");
  const size_t last = inner.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? "" : inner.substr(first, last - first + 1);
}

// A creds file as `nsc generate creds` writes it: a user JWT and a user NKey seed. libnats
// only reads it when connecting and then reports a network failure; say what is wrong here.
std::optional<std::string> credsProblem(const std::string& creds) {
  auto jwt = block(creds, "NATS USER JWT");
  auto seed = block(creds, "USER NKEY SEED");
  if (!jwt || !seed)
    return "creds is not a NATS credentials file (it needs a user JWT and an NKey seed, as "
           "`nsc generate creds` writes)";
  static const std::regex kJwt("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$");
  if (!std::regex_match(*jwt, kJwt)) return "creds: the user JWT is not a JWT";
  static const std::regex kSeed("^SU[A-Z2-7]{56}$");
  if (!std::regex_match(*seed, kSeed))
    return "creds: the NKey seed is not a user seed (58 base32 characters starting with SU)";
  return std::nullopt;
}

std::optional<std::string> pemProblem(const std::string& key, const std::string& content) {
  const bool isKey = key == "tls.key";
  const bool ok = isKey ? content.find("-----BEGIN") != std::string::npos &&
                              content.find("PRIVATE KEY-----") != std::string::npos
                        : content.find("-----BEGIN CERTIFICATE-----") != std::string::npos;
  if (ok) return std::nullopt;
  return key + " is not a PEM " + (isKey ? "private key" : "certificate");
}

std::string poolKey(const SecretConnection& s) {
  // The key covers every setting, so an edited Secret gets a new connection.
  std::string material = s.source + "|";
  for (const auto& u : s.options.urls)
    material += u + ",";
  material += "|" + s.options.token + "|" + s.options.user + "|" + s.options.password;
  for (const auto& [k, v] : s.files)
    material += "|" + k + "=" + v;
  char key[32];
  std::snprintf(key, sizeof key, "s%016zx", std::hash<std::string>{}(material));
  return key;
}

}  // namespace

Result<SecretConnection> parseNatsSecret(const nlohmann::json& secret) {
  const nlohmann::json md = secret.contains("metadata") && secret["metadata"].is_object()
                                ? secret["metadata"]
                                : nlohmann::json::object();
  // (json::value throws on a key of another type: found by fuzzing, a name that is an object)
  auto text = [&md](const char* key) {
    auto it = md.find(key);
    return it != md.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  SecretConnection out;
  out.source = text("namespace").empty() ? text("name") : text("namespace") + "/" + text("name");
  const std::string what = "Secret " + out.source;
  std::map<std::string, std::string> data;
  if (secret.contains("data") && secret["data"].is_object()) {
    for (const auto& [k, v] : secret["data"].items()) {
      if (!v.is_string()) return invalid(what + ": data." + k + " is not a string");
      auto decoded = kube::base64Decode(v.get<std::string>());
      if (!decoded) return invalid(what + ": data." + k + " is not base64");
      data[k] = decoded.value();
    }
  }
  auto take = [&](const char* key) {
    auto it = data.find(key);
    if (it == data.end() || it->second.empty()) return std::string();
    out.keys.insert(key);
    return it->second;
  };
  std::string url = take("url");
  if (url.empty())
    return invalid(what + " has no \"url\" key (for example nats://nats.nats-system:4222)");
  out.options.urls = nats::splitUrls(url);
  out.options.token = take("token");
  out.options.user = take("user");
  out.options.password = take("password");
  for (const char* key : {"creds", "ca.crt", "tls.crt", "tls.key"}) {
    if (std::string content = take(key); !content.empty()) out.files[key] = content;
  }
  if (out.files.count("creds")) {
    if (auto why = credsProblem(out.files["creds"])) return invalid(what + ": " + *why);
  }
  for (const char* key : {"ca.crt", "tls.crt", "tls.key"}) {
    if (!out.files.count(key)) continue;
    if (auto why = pemProblem(key, out.files[key])) return invalid(what + ": " + *why);
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

Result<std::shared_ptr<nats::Client>> connectLibnats(const nats::ConnectionOptions& options) {
  auto conn = nats::Connection::connect(options);
  if (!conn) return conn.error();
  auto js = nats::JetStream::create(conn.value(), std::chrono::seconds(3));
  if (!js) return js.error();
  log::info("connected to NATS", {{"client", options.name}, {"url", conn.value()->connectedUrl()}});
  return nats::makeClient(std::make_shared<nats::JetStream>(std::move(js.value())));
}

NatsConnections::NatsConnections(nats::ConnectionOptions defaults, std::string privateDir,
                                 Connector connector)
    : defaults_(std::move(defaults)),
      dir_(std::move(privateDir)),
      connector_(std::move(connector)) {}

size_t NatsConnections::size() const {
  std::lock_guard lock(mu_);
  return pool_.size();
}

void NatsConnections::bind(const std::string& channel, std::shared_ptr<nats::Client> client) {
  std::lock_guard lock(mu_);
  bound_[channel] = std::move(client);
}

void NatsConnections::unbind(const std::string& channel) {
  std::lock_guard lock(mu_);
  bound_.erase(channel);
}

std::shared_ptr<nats::Client> NatsConnections::boundTo(const std::string& channel) const {
  std::lock_guard lock(mu_);
  auto it = bound_.find(channel);
  return it == bound_.end() ? nullptr : it->second;
}

void NatsConnections::collect() {
  for (auto it = pool_.begin(); it != pool_.end();) {
    if (it->first != "default" && it->second.client.use_count() == 1) {
      log::info("NATS connection closed: no Channel uses it", {{"connection", it->first}});
      std::error_code ec;
      if (!it->second.dir.empty()) std::filesystem::remove_all(it->second.dir, ec);
      it = pool_.erase(it);  // (the last reference: the connection closes here)
    } else {
      ++it;
    }
  }
}

Result<std::shared_ptr<nats::Client>> NatsConnections::get(
    const std::optional<SecretConnection>& secret) {
  {
    std::lock_guard lock(mu_);
    collect();
  }
  if (!secret) return connect("default", defaults_, "", "--nats-url");
  const std::string key = poolKey(*secret);
  {
    std::lock_guard lock(mu_);
    if (auto it = pool_.find(key); it != pool_.end()) return it->second.client;
  }
  nats::ConnectionOptions options = secret->options;
  std::string dir;
  if (!secret->files.empty()) {
    dir = dir_ + "/" + key;
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
  auto js = connect(key, options, dir, "Secret " + secret->source);
  if (!js && !dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return js;
}

Result<std::shared_ptr<nats::Client>> NatsConnections::connect(const std::string& key,
                                                               nats::ConnectionOptions options,
                                                               const std::string& dir,
                                                               const std::string& source) {
  {
    std::lock_guard lock(mu_);
    if (auto it = pool_.find(key); it != pool_.end()) return it->second.client;
  }
  options.name = "osmosis-operator";
  options.connectTimeout = std::chrono::milliseconds(2000);
  auto client = connector_(options);
  if (!client) {
    Error e = client.error();
    // Name the Secret's key, not the operator's private file (issue 16, item 20).
    if (!dir.empty()) {
      for (size_t at; (at = e.message.find(dir + "/")) != std::string::npos;)
        e.message.replace(at, dir.size() + 1, source + " key ");
    }
    return e;
  }
  log::info("NATS connection opened", {{"connection", key}, {"for", source}});
  std::lock_guard lock(mu_);
  return pool_.emplace(key, Entry{client.value(), dir}).first->second.client;
}

Result<SecretConnection> readNatsSecret(kube::Client& client, const std::string& ns,
                                        const std::string& secretName) {
  auto secret = client.get(kube::resources::secrets(), ns, secretName);
  if (!secret) {
    if (kube::isNotFound(secret.error())) {
      return makeError(Error::Code::kNotFound,
                       "Secret " + ns + "/" + secretName + " (spec.nats.secretRef) not found");
    }
    return secret.error();
  }
  return parseNatsSecret(secret.value());
}

}  // namespace osmosis::natspool
