#include "sidecar/report/reporter.hpp"

#include "common/log/logger.hpp"
#include "common/process/guarded.hpp"
#include "common/version.hpp"

namespace osmosis::sidecar {

using SteadyClock = std::chrono::steady_clock;

Reporter::Reporter(const Config& config, State& state, std::shared_ptr<nats::Connection> conn)
    : config_(config), state_(state), conn_(std::move(conn)) {
  auto subject = report::subjectFor(config_.ns, config_.channel, config_.reportSubjectPrefix);
  subject_ = subject.ok() ? subject.value() : "";  // validated with the flags
  // A short API timeout of its own, so a slow or absent server cannot stretch the interval.
  auto timeout = std::clamp(config_.reportInterval / 2, milliseconds(100), milliseconds(2000));
  auto js = nats::JetStream::create(conn_, timeout);
  if (js.ok()) {
    js_.emplace(std::move(js.value()));
  } else {
    log::error("cannot create JetStream context for reports", {{"error", js.error().message}});
  }
}

Reporter::~Reporter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reporter::start() {
  thread_ = std::thread([this] { guarded("reporter", [this] { loop(); }); });
}

void Reporter::observePending(uint64_t pending) {
  observed_.store(pending, std::memory_order_relaxed);
  if (report::largeChange(lastReportedPending_.load(std::memory_order_relaxed), pending,
                          largeChange_)) {
    {
      std::lock_guard lock(mu_);
      poked_ = true;
    }
    cv_.notify_one();
  }
}

void Reporter::loop() {
  const auto interval = config_.reportInterval;
  // Immediate reports are at most this frequent.
  const auto minGap = std::max(interval / 10, milliseconds(50));
  const auto quarter = std::max(interval / 4, milliseconds(25));
  auto nextDue = SteadyClock::now();
  auto lastSent = SteadyClock::now() - interval;
  std::unique_lock lock(mu_);
  while (!stop_) {
    state_.beat(State::Loop::kReporter);
    auto wakeAt = nextDue;
    if (config_.mode == Mode::kReport) wakeAt = std::min(nextDue, SteadyClock::now() + quarter);
    cv_.wait_until(lock, wakeAt, [&] { return stop_ || poked_; });
    if (stop_) break;
    bool urgent = poked_;
    poked_ = false;
    lock.unlock();
    auto now = SteadyClock::now();
    if (config_.mode == Mode::kReport && now < nextDue && js_) {
      // Report mode: nobody pulls here, so look at the consumer for large moves.
      auto info = nats::requireLeader(js_->consumerInfo(config_.stream, config_.consumer));
      if (info.ok()) {
        urgent = report::largeChange(lastReportedPending_.load(), info->numPending, largeChange_);
        observed_.store(info->numPending);
      }
    }
    if (now >= nextDue || (urgent && now - lastSent >= minGap)) {
      publish(false);
      lastSent = SteadyClock::now();
      nextDue = lastSent + interval;
    } else if (urgent) {
      // Too soon after the last one: the next wake-up is at most minGap away.
      nextDue = std::min(nextDue, lastSent + minGap);
    }
    lock.lock();
  }
}

void Reporter::publish(bool final) {
  report::Report r;
  r.namespace_ = config_.ns;
  r.channel = config_.channel;
  r.pod = config_.pod;
  r.mode = modeName(config_.mode);
  r.stream = config_.stream;
  r.consumer = config_.consumer;
  r.concurrency = config_.mode == Mode::kDispatch ? config_.concurrency : 0;
  r.version = kVersion;
  r.final = final;
  r.sequence = ++sequence_;
  if (js_) {
    auto info = nats::requireLeader(js_->consumerInfo(config_.stream, config_.consumer));
    if (info.ok()) {
      r.figures =
          report::ConsumerFigures{info->numPending, info->numAckPending, info->numRedelivered};
      lastReportedPending_.store(info->numPending);
      if (config_.mode == Mode::kReport) state_.consumerBound = true;
    } else {
      state_.reportErrors.inc();
      r.error = info.error().message;
      if (config_.mode == Mode::kReport) state_.consumerBound = false;
      log::warn("cannot read consumer for the report", {{"stream", config_.stream},
                                                        {"consumer", config_.consumer},
                                                        {"error", info.error().message}});
    }
  }
  r.processed = state_.processed();
  r.failed = state_.failed();
  r.inFlight = state_.inFlight();
  r.rate = rate_.update(r.processed, SteadyClock::now());
  r.busyFraction = state_.takeBusyFraction();
  r.time = std::chrono::system_clock::now();
  state_.natsConnected = conn_->connected();
  const bool ready = state_.ready(state_.natsConnected, config_.mode == Mode::kDispatch);
  r.ready = ready;
  if (r.error.empty() && !ready) r.error = state_.error();
  auto st = conn_->publish(subject_, report::toJson(r));
  if (!st.ok()) {
    state_.reportErrors.inc();
    log::warn("cannot publish report", {{"subject", subject_}, {"error", st.error().message}});
    return;
  }
  state_.reportsPublished.inc();
  log::debug("report published", {{"subject", subject_}, {"sequence", r.sequence}});
}

void Reporter::stopWithFinalReport() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  state_.stopWatching(State::Loop::kReporter);
  publish(true);
  if (auto st = conn_->flush(std::chrono::seconds(2)); !st.ok())
    log::warn("cannot flush the final report", {{"error", st.error().message}});
}

}  // namespace osmosis::sidecar
