#include <gtest/gtest.h>

#include "common/nats/error.hpp"

namespace osmosis::nats {
namespace {

TEST(NatsError, MapsStatusesToCodesAndKeepsContext) {
  auto e = toError(NATS_NO_SERVER, "connecting to NATS at nats://127.0.0.1:1");
  EXPECT_EQ(e.code, Error::Code::kUnavailable);
  EXPECT_NE(e.message.find("connecting to NATS at nats://127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(toError(NATS_CONNECTION_AUTH_FAILED, "x").code, Error::Code::kUnauthenticated);
  EXPECT_EQ(toError(NATS_TIMEOUT, "x").code, Error::Code::kTimeout);
}

TEST(NatsError, JetStreamCodesWin) {
  EXPECT_EQ(toError(NATS_ERR, "x", JSStreamNotFoundErr).code, Error::Code::kNotFound);
  EXPECT_EQ(toError(NATS_ERR, "x", JSStreamSubjectOverlapErr).code, Error::Code::kConflict);
  auto e = toError(NATS_ERR, "x", JSConsumerNotFoundErr);
  EXPECT_NE(e.message.find("10014"), std::string::npos);
}

}  // namespace
}  // namespace osmosis::nats
