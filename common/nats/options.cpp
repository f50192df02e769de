#include "common/nats/options.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <CLI/CLI.hpp>

#include "common/contract/sidecar_contract.hpp"
#include "common/util/json_text.hpp"
#include "common/util/redact.hpp"

namespace osmosis::nats {
namespace {

bool validUrl(const std::string& url) {
  // Accept scheme://host:port, host:port, or a bare host, in printable ASCII: no blanks,
  // control or non-ASCII bytes (they would reach Events and logs).
  if (url.empty() || url.size() > kMaxUrlLength) return false;
  for (char c : url) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    std::string s = url.substr(0, scheme);
    if (s != "nats" && s != "tls" && s != "ws" && s != "wss") return false;
    if (url.size() == scheme + 3) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> splitUrls(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string part = list.substr(start, comma - start);
    size_t b = part.find_first_not_of(" \t");
    size_t e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> validate(const ConnectionOptions& o) {
  std::vector<std::string> problems;
  if (o.urls.empty()) problems.push_back("no NATS URL given (for example nats://127.0.0.1:4222)");
  if (o.urls.size() > kMaxUrls) {
    // libnats tries them one after the other, each up to the connect timeout.
    problems.push_back("too many NATS URLs (" + std::to_string(o.urls.size()) + "): at most " +
                       std::to_string(kMaxUrls) + "; the servers of a cluster find each other");
    return problems;
  }
  for (const auto& url : o.urls) {
    if (!validUrl(url)) {
      problems.push_back("invalid NATS URL \"" + printableText(redactUrl(url), 256) +
                         "\": use nats://host:port or tls://host:port");
    }
  }
  int methods =
      (!o.credsFile.empty()) + (!o.token.empty()) + (!o.user.empty() || !o.password.empty());
  if (methods > 1) {
    problems.push_back(
        "choose one NATS authentication method: creds file, token, or user/password");
  }
  if (o.user.empty() != o.password.empty()) {
    problems.push_back("NATS user and password go together: set both or neither");
  }
  if (o.tls.certFile.empty() != o.tls.keyFile.empty()) {
    problems.push_back("NATS TLS client certificate and key go together: set both or neither");
  }
  if (o.connectTimeout.count() <= 0) problems.push_back("NATS connect timeout must be positive");
  if (o.reconnectWait.count() < 0) problems.push_back("NATS reconnect wait must not be negative");
  return problems;
}

std::vector<std::string> unreadableFiles(const ConnectionOptions& o) {
  std::vector<std::string> problems;
  auto check = [&](const std::string& path, const char* what) {
    if (path.empty()) return;
    std::ifstream in(path);
    if (!in)
      problems.push_back(std::string("cannot read NATS ") + what + " " + path + ": " +
                         std::strerror(errno));
  };
  check(o.credsFile, "credentials file");
  check(o.tls.caFile, "TLS CA file");
  check(o.tls.certFile, "TLS certificate file");
  check(o.tls.keyFile, "TLS key file");
  return problems;
}

void addFlags(CLI::App& app, ConnectionOptions* o, std::string* urlList) {
  app.add_option("--nats-url", *urlList, "NATS server URLs, comma-separated")
      ->envname(contract::kEnvNatsUrl)
      ->capture_default_str();
  app.add_option("--nats-creds", o->credsFile, "NATS credentials file (JWT + NKey seed)")
      ->envname(contract::kEnvNatsCreds)
      ->check(CLI::ExistingFile);
  app.add_option("--nats-token", o->token, "NATS authentication token")
      ->envname(contract::kEnvNatsToken);
  app.add_option("--nats-user", o->user, "NATS user name")->envname(contract::kEnvNatsUser);
  app.add_option("--nats-password", o->password, "NATS password")
      ->envname(contract::kEnvNatsPassword);
  app.add_option("--nats-tls-ca", o->tls.caFile, "CA certificates to trust for NATS TLS (PEM)")
      ->envname(contract::kEnvNatsTlsCa)
      ->check(CLI::ExistingFile);
  app.add_option("--nats-tls-cert", o->tls.certFile, "client certificate for NATS mutual TLS")
      ->envname(contract::kEnvNatsTlsCert)
      ->check(CLI::ExistingFile);
  app.add_option("--nats-tls-key", o->tls.keyFile, "client key for NATS mutual TLS")
      ->envname(contract::kEnvNatsTlsKey)
      ->check(CLI::ExistingFile);
}

}  // namespace osmosis::nats
