#pragma once

// How to reach NATS: URLs, TLS files, and one of creds file / token / user+password.

#include <chrono>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace osmosis::nats {

inline constexpr size_t kMaxUrls = 16;
inline constexpr size_t kMaxUrlLength = 512;

struct TlsOptions {
  std::string caFile;    // trusted CAs (PEM)
  std::string certFile;  // client certificate (PEM), with keyFile, for mutual TLS
  std::string keyFile;
  bool enabled() const { return !caFile.empty() || !certFile.empty(); }
};

struct AsioLoop;

struct ConnectionOptions {
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  std::string name;  // shown by the server (connz) for this client
  std::string credsFile;
  std::string token;
  std::string user;
  std::string password;
  TlsOptions tls;
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds reconnectWait{1000};
  int maxReconnect = -1;  // -1: keep trying for ever once connected
  // Write every publish (and every ack, pull request) to the socket at once. Off, libnats
  // buffers them and its flusher thread writes them about a millisecond later.
  bool sendAsap = false;
  // Run subscription callbacks on libnats' shared delivery thread instead of a thread per
  // subscription (the operator holds one per Channel: 500 Channels were 560 threads, each
  // woken for its own reports). Close the library only after the last connection is gone.
  bool sharedDelivery = false;
  // Run the connection's socket on an io_context instead of libnats' reader and flusher
  // threads (asio_loop.hpp); it must outlive the connection.
  const AsioLoop* loop = nullptr;
};

// Pure: every problem with the options, as sentences a user can act on. Empty means valid.
std::vector<std::string> validate(const ConnectionOptions& options);

// I/O: files named in the options that cannot be read (libnats reads the creds file only
// when connecting, and would then blame the network).
std::vector<std::string> unreadableFiles(const ConnectionOptions& options);

// A comma-separated URL list as the NATS tools accept it ("nats://a:4222,nats://b:4222").
std::vector<std::string> splitUrls(const std::string& list);

// Registers --nats-url, --nats-creds, --nats-token, --nats-user, --nats-password,
// --nats-tls-ca, --nats-tls-cert, --nats-tls-key (each also from an OSMOSIS_NATS_* variable).
// urlList receives the raw comma-separated list; call splitUrls on it after parsing.
void addFlags(CLI::App& app, ConnectionOptions* options, std::string* urlList);

}  // namespace osmosis::nats
