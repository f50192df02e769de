#include "common/nats/asio_loop.hpp"

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <optional>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log/logger.hpp"

namespace osmosis::nats {
namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// One connection's polling. libnats calls the callbacks below from any thread, sometimes
// holding the connection's lock: each only posts to the strand, where everything else runs.
// The socket is polled through a duplicate descriptor of our own, so that libnats closing its
// descriptor can never leave us polling (or closing) a number reused by another socket.
struct Poller : std::enable_shared_from_this<Poller> {
  Poller(asio::io_context& io, const AsioLoop& l, natsConnection* c)
      : strand(asio::make_strand(io)), loop(l), nc(c) {}

  asio::strand<asio::io_context::executor_type> strand;
  const AsioLoop loop;  // (a copy: the poller may outlive whoever set the loop up)
  natsConnection* nc;
  // Strand only.
  std::optional<asio::posix::stream_descriptor> socket;
  bool reading = false;
  // Set by libnats' write callback itself (in order, under the connection's lock): whether it
  // has bytes waiting. A write event without them would send nothing, which libnats reads as
  // the connection closed.
  std::atomic<bool> writing{false};
  // Set by libnats' detach callback (natsConnection_Close): nothing is asked of libnats or of
  // the loop's owner after it.
  std::atomic<bool> detached{false};
  bool waitingRead = false;
  bool waitingWrite = false;

  void attach(int fd) {
    drop();
    socket.emplace(strand, fd);
    reading = true;
    waitRead();
  }
  void drop() {
    if (!socket) return;
    error_code ec;
    socket->close(ec);  // (our duplicate; cancels the waits)
    socket.reset();
    waitingRead = waitingWrite = false;
  }

  void waitRead() {
    if (!socket || !reading || waitingRead) return;
    waitingRead = true;
    socket->async_wait(asio::posix::stream_descriptor::wait_read,
                       asio::bind_executor(strand, [self = shared_from_this()](error_code ec) {
                         self->waitingRead = false;
                         if (ec || !self->reading) return;
                         self->read();
                       }));
  }
  void read() {
    if (detached) return;
    natsConnection_ProcessReadEvent(nc);
    if (detached) return;  // (closed meanwhile: its owner may be going)
    try {
      if (loop.afterRead) loop.afterRead();
    } catch (const std::exception& e) {  // (reading goes on whatever happened)
      log::error("handling what the NATS connection read failed", {{"error", e.what()}});
    }
    if (!socket || !reading) return;
    // libnats reads once per event. When bytes are still there, read again after the others
    // had their turn, rather than through another wait (which asio re-arms with
    // EPOLL_CTL_MOD, so it would see them too, a trip through epoll later).
    char c;
    if (::recv(socket->native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
      asio::post(strand, [self = shared_from_this()] {
        if (self->socket && self->reading) self->read();
      });
      return;
    }
    waitRead();
  }

  // libnats has bytes to send: it writes what the socket takes and calls write(false) once
  // the buffer is empty; until then, wait for the socket to take more.
  void write() {
    if (!writing || detached) return;
    natsConnection_ProcessWriteEvent(nc);
    if (!socket || !writing || waitingWrite) return;
    waitingWrite = true;
    socket->async_wait(asio::posix::stream_descriptor::wait_write,
                       asio::bind_executor(strand, [self = shared_from_this()](error_code ec) {
                         self->waitingWrite = false;
                         if (ec || !self->writing) return;
                         self->write();
                       }));
  }
};

// What libnats holds as the connection's user data, from attach to detach.
struct Holder {
  std::shared_ptr<Poller> poller;
};

natsStatus onAttach(void** userData, void* loop, natsConnection* nc, natsSock fd) {
  const auto* l = static_cast<const AsioLoop*>(loop);
  auto* h = static_cast<Holder*>(*userData);
  if (h == nullptr) {
    h = new Holder{std::make_shared<Poller>(*l->io, *l, nc)};
    *userData = h;
  }
  const int mine = ::dup(fd);
  if (mine < 0) return NATS_SYS_ERROR;
  asio::post(h->poller->strand, [p = h->poller, mine] {
    try {
      p->attach(mine);
    } catch (const std::exception& e) {
      ::close(mine);
      log::error("cannot poll the NATS connection", {{"error", e.what()}});
    }
  });
  return NATS_OK;
}

natsStatus onRead(void* userData, bool add) {
  auto p = static_cast<Holder*>(userData)->poller;
  asio::post(p->strand, [p, add] {
    p->reading = add;
    if (add) p->waitRead();
  });
  return NATS_OK;
}

natsStatus onWrite(void* userData, bool add) {
  auto p = static_cast<Holder*>(userData)->poller;
  p->writing = add;
  if (add) asio::post(p->strand, [p] { p->write(); });
  return NATS_OK;
}

natsStatus onDetach(void* userData) {
  auto* h = static_cast<Holder*>(userData);
  h->poller->detached = true;
  asio::post(h->poller->strand, [p = h->poller] {
    p->reading = p->writing = false;
    p->drop();
  });
  delete h;
  return NATS_OK;
}

}  // namespace

natsStatus useAsioLoop(natsOptions* opts, const AsioLoop& loop) {
  return natsOptions_SetEventLoop(opts, const_cast<AsioLoop*>(&loop), onAttach, onRead, onWrite,
                                  onDetach);
}

}  // namespace osmosis::nats
