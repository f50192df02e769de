#include <gtest/gtest.h>

#include "sidecar/dispatch/outcome.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;
using Action = Settlement::Action;
using Kind = DeliveryResult::Kind;

DeliveryResult answer(int status) {
  DeliveryResult r;
  r.status = status;
  return r;
}

DeliveryResult failure(Kind kind) {
  DeliveryResult r;
  r.kind = kind;
  return r;
}

TEST(Outcome, TwoHundredsAck) {
  for (int s : {200, 201, 202, 204, 299})
    EXPECT_EQ(decide(answer(s), 1, {}).action, Action::kAck) << s;
}

TEST(Outcome, TransientFailuresNakWithBackoff) {
  RetryPolicy p;
  p.backoff = {1s, 5s, 30s};
  for (int s : {429, 500, 502, 503, 504}) {
    auto d = decide(answer(s), 2, p);
    EXPECT_EQ(d.action, Action::kNak) << s;
    EXPECT_EQ(d.delay, 5s) << s;
  }
  for (auto k : {Kind::kRefused, Kind::kTimeout, Kind::kTransport}) {
    auto d = decide(failure(k), 1, p);
    EXPECT_EQ(d.action, Action::kNak);
    EXPECT_EQ(d.delay, 1s);
    EXPECT_FALSE(d.reason.empty());
  }
}

TEST(Outcome, OtherClientErrorsTermAndDeadLetterWhenConfigured) {
  RetryPolicy p;
  for (int s : {400, 401, 403, 404, 409, 413, 422, 499}) {
    auto d = decide(answer(s), 1, p);
    EXPECT_EQ(d.action, Action::kTerm) << s;
    EXPECT_FALSE(d.deadLetter);
  }
  p.hasDeadLetter = true;
  auto d = decide(answer(400), 1, p);
  EXPECT_TRUE(d.deadLetter);
  EXPECT_NE(d.reason.find("400"), std::string::npos);
}

TEST(Outcome, AbortedDeliveryNaksAtOnce) {
  auto d = decide(failure(Kind::kAborted), 3, {});
  EXPECT_EQ(d.action, Action::kNak);
  EXPECT_EQ(d.delay, 0ms);
}

TEST(Outcome, LastAllowedDeliveryTermsInsteadOfNak) {
  RetryPolicy p;
  p.maxDeliver = 3;
  p.hasDeadLetter = true;
  EXPECT_EQ(decide(answer(500), 2, p).action, Action::kNak);
  auto d = decide(answer(500), 3, p);
  EXPECT_EQ(d.action, Action::kTerm);
  EXPECT_TRUE(d.deadLetter);
  EXPECT_NE(d.reason.find("max 3"), std::string::npos);
  EXPECT_EQ(decide(answer(200), 3, p).action, Action::kAck);
}

TEST(Outcome, BackoffListClampsToItsLastEntry) {
  RetryPolicy p;
  p.backoff = {1s, 5s};
  EXPECT_EQ(backoffDelay(0, p), 1s);
  EXPECT_EQ(backoffDelay(1, p), 1s);
  EXPECT_EQ(backoffDelay(2, p), 5s);
  EXPECT_EQ(backoffDelay(50, p), 5s);
}

TEST(Outcome, DefaultBackoffIsExponentialAndCapped) {
  RetryPolicy p;
  EXPECT_EQ(backoffDelay(1, p), 1s);
  EXPECT_EQ(backoffDelay(2, p), 2s);
  EXPECT_EQ(backoffDelay(4, p), 8s);
  EXPECT_EQ(backoffDelay(8, p), 120s);
  EXPECT_EQ(backoffDelay(1000000, p), 120s);
}

TEST(Outcome, RetryAfterOverridesBackoffFor429And503) {
  RetryPolicy p;
  auto r = answer(429);
  r.retryAfter = 7s;
  EXPECT_EQ(decide(r, 1, p).delay, 7s);
  r.status = 500;
  EXPECT_EQ(decide(r, 1, p).delay, 1s);
  EXPECT_EQ(parseRetryAfter("120"), std::optional<milliseconds>(120s));
  EXPECT_EQ(parseRetryAfter("999999"), std::optional<milliseconds>(3600s));
  EXPECT_FALSE(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  EXPECT_FALSE(parseRetryAfter("-1").has_value());
  EXPECT_FALSE(parseRetryAfter("").has_value());
}

TEST(Outcome, OddStatusesAreTransient) {
  EXPECT_EQ(decide(answer(302), 1, {}).action, Action::kNak);
  EXPECT_EQ(decide(answer(100), 1, {}).action, Action::kNak);
}

}  // namespace
}  // namespace osmosis::sidecar
