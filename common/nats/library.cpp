#include "common/nats/library.hpp"

#include <openssl/ssl.h>

#include <nats/nats.h>

namespace osmosis::nats {

void closeLibrary() {
  nats_Close();
  if (STACK_OF(SSL_COMP)* methods = SSL_COMP_set0_compression_methods(nullptr))
    sk_SSL_COMP_free(methods);  // (empty: Debian's OpenSSL has no compression methods)
}

}  // namespace osmosis::nats
