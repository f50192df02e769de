#include "common/nats/connection.hpp"

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "common/log/logger.hpp"
#include "common/nats/asio_loop.hpp"
#include "common/nats/error.hpp"
#include "common/util/redact.hpp"

namespace osmosis::nats {
namespace {

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

// For messages: credentials never shown.
std::string joined(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls)
    out += (out.empty() ? "" : ",") + redactUrl(u);
  return out;
}

// Errors the server sends with no caller to return them to (a permissions violation on a
// pull or a publish, a slow consumer): logged as a warning so a confined or overloaded client
// says why it gets nothing instead of timing out silently. Each distinct message at most once
// a minute. libnats calls this on its own thread, possibly after the Connection is gone, so
// the rate limit is process-wide state, not the Connection's. The server's text names what
// was refused ("Permissions Violation for Publish to ..."); it is redacted all the same.
void onAsyncError(natsConnection* nc, natsSubscription*, natsStatus err, void*) {
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::string message = natsStatus_GetText(err);
  if (text != nullptr && *text != '\0') message += ": " + std::string(text);
  message = redactCredentials(message);

  // Never destroyed: libnats' thread may call in while the process exits.
  static auto* mu = new std::mutex;
  static auto* loggedAt = new std::map<std::string, std::chrono::steady_clock::time_point>;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(*mu);
    if (loggedAt->size() > 256) loggedAt->clear();  // (bounded: messages name subjects)
    auto [it, fresh] = loggedAt->try_emplace(message, now);
    if (!fresh && now - it->second < std::chrono::minutes(1)) return;
    it->second = now;
  }
  log::warn("NATS reported an error", {{"error", message}});
}

}  // namespace

Result<std::shared_ptr<Connection>> Connection::connect(const ConnectionOptions& o) {
  auto problems = validate(o);
  if (problems.empty()) problems = unreadableFiles(o);
  if (!problems.empty()) {
    std::string msg = "invalid NATS connection options: " + problems.front();
    for (size_t i = 1; i < problems.size(); ++i)
      msg += "; " + problems[i];
    return makeError(Error::Code::kInvalidArgument, msg);
  }
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK)
    return toError(s, "creating NATS options");
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);

  std::vector<const char*> servers;
  for (const auto& u : o.urls)
    servers.push_back(u.c_str());
  const std::string urls = joined(o.urls);
  auto step = [&](natsStatus s, const std::string& what) -> Status {
    if (s != NATS_OK) return toError(s, what);
    return {};
  };
  Status st =
      step(natsOptions_SetServers(opts.get(), servers.data(), static_cast<int>(servers.size())),
           "setting NATS URLs " + urls);
  if (st && !o.name.empty())
    st = step(natsOptions_SetName(opts.get(), o.name.c_str()), "setting client name");
  if (st)
    st = step(natsOptions_SetTimeout(opts.get(), o.connectTimeout.count()),
              "setting connect timeout");
  if (st)
    st = step(natsOptions_SetReconnectWait(opts.get(), o.reconnectWait.count()),
              "setting reconnect wait");
  if (st)
    st = step(natsOptions_SetMaxReconnect(opts.get(), o.maxReconnect), "setting max reconnect");
  if (st)
    st = step(natsOptions_SetErrorHandler(opts.get(), onAsyncError, nullptr),
              "setting the error handler");
  if (st && o.sendAsap) st = step(natsOptions_SetSendAsap(opts.get(), true), "setting send-asap");
  if (st && o.loop != nullptr)
    st = step(useAsioLoop(opts.get(), *o.loop), "running the connection on the event loop");
  if (st && o.sharedDelivery)
    st = step(natsOptions_UseGlobalMessageDelivery(opts.get(), true), "setting shared delivery");
  if (st && !o.token.empty())
    st = step(natsOptions_SetToken(opts.get(), o.token.c_str()), "setting NATS token");
  if (st && !o.user.empty()) {
    st = step(natsOptions_SetUserInfo(opts.get(), o.user.c_str(), o.password.c_str()),
              "setting NATS user");
  }
  if (st && !o.credsFile.empty()) {
    st = step(natsOptions_SetUserCredentialsFromFiles(opts.get(), o.credsFile.c_str(), nullptr),
              "loading NATS credentials file " + o.credsFile);
  }
  if (st && o.tls.enabled()) st = step(natsOptions_SetSecure(opts.get(), true), "enabling TLS");
  if (st && !o.tls.caFile.empty()) {
    st = step(natsOptions_LoadCATrustedCertificates(opts.get(), o.tls.caFile.c_str()),
              "loading NATS TLS CA file " + o.tls.caFile);
  }
  if (st && !o.tls.certFile.empty()) {
    st = step(natsOptions_LoadCertificatesChain(opts.get(), o.tls.certFile.c_str(),
                                                o.tls.keyFile.c_str()),
              "loading NATS TLS certificate " + o.tls.certFile + " and key " + o.tls.keyFile);
  }
  if (!st) {
    // Setting options up touches no server: whatever failed (an unreadable or garbled
    // certificate reads as an SSL error) is the configuration's fault, not the network's.
    Error e = st.error();
    e.code = Error::Code::kInvalidArgument;
    return e;
  }

  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts.get());
  if (s != NATS_OK) {
    std::string doing = "connecting to NATS at " + urls;
    Error e = toError(s, doing);
    if (s == NATS_NO_SERVER) e.message += ": is nats-server running there and reachable?";
    return e;
  }
  return std::shared_ptr<Connection>(new Connection(nc));
}

Connection::~Connection() {
  // Close flushes pending data; Destroy frees. Both are safe on a closed connection.
  natsConnection_Close(nc_);
  natsConnection_Destroy(nc_);
}

Status Connection::publish(std::string_view subject, std::string_view data,
                           const Headers& headers) {
  const std::string subj(subject);
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subj.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  for (const auto& [k, v] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
  }
  if (s == NATS_OK) s = natsConnection_PublishMsg(nc_, msg);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return toError(s, "publishing to " + subj);
  return {};
}

Status Connection::flush(std::chrono::milliseconds timeout) {
  natsStatus s = natsConnection_FlushTimeout(nc_, timeout.count());
  if (s != NATS_OK) return toError(s, "flushing NATS connection");
  return {};
}

bool Connection::connected() const {
  return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::string Connection::connectedUrl() const {
  char buf[1024] = {0};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof buf) != NATS_OK) return "";
  return redactUrl(buf);
}

}  // namespace osmosis::nats
