#include "operator/autoscaler/stream_states.hpp"

#include <algorithm>

#include "common/log/logger.hpp"

namespace osmosis::autoscaler {

std::optional<Result<std::shared_ptr<const StreamStates::Listing>>> StreamStates::fresh(
    const Entry& e, TimePoint now) {
  if ((!e.listing && !e.error) || now >= e.validUntil) return std::nullopt;
  if (e.error) return Result<std::shared_ptr<const Listing>>(*e.error);
  return Result<std::shared_ptr<const Listing>>(e.listing);
}

Result<std::shared_ptr<const StreamStates::Listing>> StreamStates::get(
    const std::shared_ptr<nats::Client>& client, const std::string& stream) {
  std::shared_ptr<std::mutex> gate;
  {
    std::lock_guard lock(mu_);
    std::erase_if(byClient_, [](const auto& kv) { return kv.second.client.expired(); });
    Entry& e = byClient_[client.get()];
    if (e.client.lock() != client) {
      e = Entry();
      e.client = client;
    }
    const TimePoint now = clock_.now();
    e.asked[stream] = now;
    if (auto r = fresh(e, now)) return *r;
    gate = e.listingNow;
  }
  std::lock_guard listing(*gate);
  const TimePoint now = clock_.now();
  {
    std::lock_guard lock(mu_);
    if (auto r = fresh(byClient_[client.get()], now)) return *r;  // listed while we waited
  }
  auto streams = client->listStreams();
  const uint64_t pages = streams ? std::max<uint64_t>(1, (streams->size() + 255) / 256) : 1;
  metrics_
      .counter("osmosis_nats_calls_total", "JetStream API calls made by the operator",
               {{"op", "stream.list"}})
      .inc(pages);
  size_t wanted = 0;  // streams asked for lately: is a list of them all worth it?
  {
    std::lock_guard lock(mu_);
    Entry& e = byClient_[client.get()];
    std::erase_if(e.asked, [&](const auto& kv) { return now - kv.second > kAskedMemory; });
    wanted = e.asked.size();
  }
  const bool wasteful = streams && streams->size() > kListWorthIt * wanted + 256;
  Result<std::shared_ptr<const Listing>> out = [&]() -> Result<std::shared_ptr<const Listing>> {
    if (!streams) return streams.error();
    if (wasteful)
      return makeError(Error::Code::kUnavailable,
                       "the account holds " + std::to_string(streams->size()) + " streams for " +
                           std::to_string(wanted) +
                           " Channels: each Channel reads its own stream for a while");
    auto l = std::make_shared<Listing>();
    l->listedAt = now;
    for (const auto& s : streams.value())
      if (!s.leaderless) l->byName.emplace(s.config.name, s.state);
    return std::shared_ptr<const Listing>(std::move(l));
  }();
  std::lock_guard lock(mu_);
  Entry& e = byClient_[client.get()];
  if (e.client.lock() != client) return out;  // (replaced while listing: keep nothing)
  if (wasteful && !e.wasteful)
    log::info("not listing streams: far more than the Channels use",
              {{"streams", streams->size()}, {"channels", wanted}});
  // Valid from when the list came back (figures are stamped with when it was asked for): a
  // slow or timed-out list is shared with the callers that waited for it, not made again.
  e.validUntil = clock_.now() + (wasteful ? std::chrono::milliseconds(kAskedMemory) : maxAge_);
  e.listing = out ? out.value() : nullptr;
  e.error = out ? std::nullopt : std::optional<Error>(out.error());
  e.wasteful = wasteful;
  return out;
}

}  // namespace osmosis::autoscaler
