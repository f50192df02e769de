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
  std::shared_ptr<Listing> l;
  if (streams) {
    l = std::make_shared<Listing>();
    l->listedAt = now;
    for (const auto& s : streams.value())
      if (!s.leaderless) l->byName.emplace(s.config.name, s.state);
  }
  std::lock_guard lock(mu_);
  Entry& e = byClient_[client.get()];
  if (e.client.lock() != client) {  // (replaced while listing: answer, keep nothing)
    if (!streams) return streams.error();
    return std::shared_ptr<const Listing>(std::move(l));
  }
  std::erase_if(e.asked, [&](const auto& kv) { return now - kv.second > kAskedMemory; });
  // Valid from when the list came back (figures are stamped with when it was asked for): a
  // slow or timed-out list is shared with the callers that waited for it, not made again.
  const TimePoint done = clock_.now();
  e.listing = l;
  e.error.reset();
  e.validUntil = done + maxAge_;
  const bool wasteful = streams && streams->size() > kListWorthIt * e.asked.size() + 256;
  if (!streams) {
    e.error = streams.error();
  } else if (wasteful) {
    const std::string why = "the account holds " + std::to_string(streams->size()) +
                            " streams for " + std::to_string(e.asked.size()) +
                            " Channels: each Channel reads its own stream for a while";
    if (!e.wasteful)
      log::info("not listing streams: far more than the Channels use",
                {{"streams", streams->size()}, {"channels", e.asked.size()}});
    e.listing.reset();
    e.error = makeError(Error::Code::kUnavailable, why);
    e.validUntil = done + kAskedMemory;
  }
  e.wasteful = wasteful;
  if (e.error) return *e.error;
  return std::shared_ptr<const Listing>(std::move(l));
}

}  // namespace osmosis::autoscaler
