#include "operator/kube/client/cpprest_transport.hpp"

#include <boost/asio/ssl.hpp>
#include <mutex>

#include <cpprest/http_client.h>

#include "common/log/logger.hpp"

namespace osmosis::kube {
namespace {

namespace http = web::http;

// Bearer token from config, or re-read from a file now and then (service-account tokens rotate).
class TokenSource {
 public:
  TokenSource(const RestConfig& c, std::chrono::seconds refresh, const Clock& clock)
      : token_(c.token), file_(c.tokenFile), refresh_(refresh), clock_(clock) {}

  std::string get() {
    if (file_.empty()) return token_;
    std::lock_guard lock(mu_);
    auto now = clock_.now();
    if (!loaded_ || now - loadedAt_ >= refresh_) {
      auto text = readFileToString(file_);
      if (text) {
        std::string t = text.value();
        while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
          t.pop_back();
        token_ = t;
      } else {
        // Keep the last good token; the API server will say if it stopped working.
        log::warn("cannot re-read service-account token", {{"error", text.error().message}});
      }
      loaded_ = true;
      loadedAt_ = now;
    }
    return token_;
  }

 private:
  std::mutex mu_;
  std::string token_;
  std::string file_;
  std::chrono::seconds refresh_;
  const Clock& clock_;
  bool loaded_ = false;
  SteadyTime loadedAt_{};
};

http::client::http_client_config clientConfig(const RestConfig& c, std::chrono::seconds timeout) {
  http::client::http_client_config cfg;
  cfg.set_timeout(timeout);
  cfg.set_validate_certificates(!c.insecureSkipTlsVerify);
  std::string ca = c.caPem, cert = c.clientCertPem, key = c.clientKeyPem;
  // Certificates and keys are loaded from memory: nothing is written to disk.
  cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
    if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
    if (!cert.empty()) ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
    if (!key.empty())
      ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                          boost::asio::ssl::context::pem);
  });
  return cfg;
}

class CpprestTransport final : public Transport {
 public:
  CpprestTransport(const RestConfig& c, const TransportOptions& o, const Clock& clock)
      : config_(c),
        options_(o),
        tokens_(c, o.tokenRefresh, clock),
        client_(c.server, clientConfig(c, o.requestTimeout)),
        streamClient_(c.server, clientConfig(c, o.streamIdleTimeout)) {}

  Result<HttpResponse> send(const HttpRequest& r) override {
    try {
      auto resp = client_.request(build(r)).get();
      return toResponse(resp, true);
    } catch (const std::exception& e) {
      return connectionError(e.what(), r.method + " " + r.target);
    }
  }

  Result<HttpResponse> stream(const HttpRequest& r,
                              const std::function<bool(std::string_view)>& onChunk,
                              StopSource& stop) override {
    pplx::cancellation_token_source cancel;
    uint64_t registration = stop.onStop([cancel] { cancel.cancel(); });
    struct Unregister {
      StopSource& s;
      uint64_t id;
      ~Unregister() { s.removeOnStop(id); }
    } unregister{stop, registration};
    try {
      auto resp = streamClient_.request(build(r), cancel.get_token()).get();
      if (resp.status_code() < 200 || resp.status_code() >= 300) return toResponse(resp, true);
      auto buf = resp.body().streambuf();
      std::vector<uint8_t> chunk(64 * 1024);
      for (;;) {
        if (stop.stopped()) break;
        // getn(count) waits for `count` bytes; a watch needs each event as it arrives, so wait
        // for one byte, then take whatever else is already there without blocking.
        size_t n = buf.getn(chunk.data(), 1).get();
        if (n == 0) break;  // the server ended the stream
        size_t more = std::min(buf.in_avail(), chunk.size() - 1);
        if (more > 0) n += buf.getn(chunk.data() + 1, more).get();  // available: does not wait
        if (!onChunk(std::string_view(reinterpret_cast<const char*>(chunk.data()), n))) break;
      }
      return toResponse(resp, false);
    } catch (const std::exception& e) {
      if (stop.stopped()) return HttpResponse{200, "", ""};
      return connectionError(e.what(), r.method + " " + r.target);
    }
  }

 private:
  http::http_request build(const HttpRequest& r) {
    http::http_request req(r.method);
    req.set_request_uri(r.target);
    req.headers().add("Accept", "application/json");
    if (!options_.userAgent.empty()) req.headers().add("User-Agent", options_.userAgent);
    if (std::string token = tokens_.get(); !token.empty())
      req.headers().add("Authorization", "Bearer " + token);
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
      req.set_body(r.body, r.contentType.empty() ? "application/json" : r.contentType);
    }
    return req;
  }

  static HttpResponse toResponse(http::http_response& resp, bool readBody) {
    HttpResponse out;
    out.status = resp.status_code();
    if (readBody) out.body = resp.extract_utf8string(true).get();
    if (resp.headers().has("Retry-After")) out.retryAfter = resp.headers()["Retry-After"];
    return out;
  }

  static Error connectionError(const std::string& what, const std::string& doing) {
    return makeError(Error::Code::kUnavailable, doing + ": " + what);
  }

  RestConfig config_;
  TransportOptions options_;
  TokenSource tokens_;
  http::client::http_client client_;
  http::client::http_client streamClient_;
};

}  // namespace

std::shared_ptr<Transport> makeCpprestTransport(const RestConfig& config,
                                                const TransportOptions& options,
                                                const Clock& clock) {
  return std::make_shared<CpprestTransport>(config, options, clock);
}

}  // namespace osmosis::kube
