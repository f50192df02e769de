#include "gateway/auth/request_token.hpp"

#include <algorithm>
#include <array>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdexcept>

#include "common/contract/gateway_contract.hpp"

namespace osmosis::gateway {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac(const std::string& key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");  // (OpenSSL broken: cannot go on)
  return out;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

std::string base64url(const unsigned char* p, size_t n) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const unsigned v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (n - i == 1) {
    const unsigned v = p[i] << 16;
    out += {table[v >> 18], table[(v >> 12) & 63]};
  } else if (n - i == 2) {
    const unsigned v = (p[i] << 16) | (p[i + 1] << 8);
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63]};
  }
  return out;
}

}  // namespace

Result<RequestSigner> RequestSigner::create(std::string key) {
  if (key.size() < kMinSigningKeyBytes)
    return makeError(
        Error::Code::kInvalidArgument,
        "the signing key has " + std::to_string(key.size()) + " bytes; at least 32 are needed");
  return RequestSigner(std::move(key));
}

std::string RequestSigner::token(std::string_view requestId) const {
  const Digest d = hmac(key_, "token\n" + std::string(requestId));
  return base64url(d.data(), d.size());
}

bool RequestSigner::tokenMatches(std::string_view requestId, std::string_view token) const {
  return constantTimeEquals(this->token(requestId), token);
}

std::string RequestSigner::randomIdPart() {
  // Taken from OpenSSL 4 KiB at a time per thread: a RAND_bytes call per POST (each with a
  // getpid for fork safety; the gateway does not fork) showed in the benchmark's profile.
  constexpr size_t kIdBytes = contract::gateway::kRandomHexChars / 2;
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local size_t used = pool.size();
  if (used + kIdBytes > pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      throw std::runtime_error("no random bytes from OpenSSL");  // cannot go on safely
    used = 0;
  }
  std::string id = hex(pool.data() + used, kIdBytes);
  std::fill_n(pool.data() + used, kIdBytes, 0);  // (handed out once)
  used += kIdBytes;
  return id;
}

std::string RequestSigner::idempotentIdPart(std::string_view ns, std::string_view channel,
                                            std::string_view scope,
                                            std::string_view idempotencyKey) const {
  std::string data = "id\n";
  data.append(ns).append("/").append(channel).append("\n");
  data.append(scope).append("\n").append(idempotencyKey);
  const Digest d = hmac(key_, data);
  return hex(d.data(), contract::gateway::kRandomHexChars / 2);
}

std::string publisherScope(std::string_view bearerToken) {
  if (bearerToken.empty()) return "";
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bearerToken.data()), bearerToken.size(), d);
  return hex(d, 12);
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace osmosis::gateway
