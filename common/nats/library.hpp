#pragma once

// The end of a process that used libnats.

namespace osmosis::nats {

// Closes libnats (its threads and timers) and leaves OpenSSL in a state its own exit handler
// can clean up. Call once, at the end of main, after every connection is gone.
//
// Why the second part: libnats 3.4.1's exit handler frees OpenSSL's compression-method stack
// (sk_SSL_COMP_free(SSL_COMP_get_compression_methods())), which OpenSSL 3 frees again in
// OPENSSL_cleanup. When something else (cpprestsdk's Boost.Asio) initialised OpenSSL first,
// OPENSSL_cleanup runs last and the process crashed at exit (SEGV in OPENSSL_sk_pop_free)
// whenever libnats had set up TLS. Taking the stack out of OpenSSL's hands here makes both
// frees see nothing.
void closeLibrary();

}  // namespace osmosis::nats
