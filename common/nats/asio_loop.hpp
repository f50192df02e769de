#pragma once

// libnats' external event loop on a Boost.Asio io_context: the connection's socket is read and
// written by the io_context's threads instead of libnats' reader and flusher threads. The
// gateway publishes on such a connection from its HTTP threads and reads the acknowledgements
// there too, so a POST is answered on the thread that read its acknowledgement, without the
// hand-offs between libnats' threads and the HTTP threads (docs/gateway.md, benchmark).

#include <functional>

#include <nats/nats.h>

namespace boost::asio {
class io_context;
}

namespace osmosis::nats {

struct AsioLoop {
  boost::asio::io_context* io = nullptr;
  // Runs on an io_context thread after each read of the socket (its messages are parsed and
  // queued in their subscriptions by then), serialised with the reads.
  std::function<void()> afterRead;
};

// Sets `opts` to run the connection on `loop.io`, which must run until the connection is
// closed. `loop` must outlive the connection (libnats uses it at every reconnection); the
// polling keeps a copy of it, which may outlive both.
natsStatus useAsioLoop(natsOptions* opts, const AsioLoop& loop);

}  // namespace osmosis::nats
