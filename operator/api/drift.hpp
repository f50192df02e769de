#pragma once

// What differs between the stream/consumer a Channel asks for and what the NATS server has,
// field by field, and which differences the server cannot apply in place. Pure.

#include <string>
#include <vector>

#include "common/nats/jetstream_types.hpp"

namespace osmosis::api {

struct FieldChange {
  std::string field;
  std::string have;
  std::string want;
  bool immutable = false;  // the server refuses to change it in place
};

std::vector<FieldChange> streamDrift(const nats::StreamConfig& want,
                                     const nats::StreamConfig& have);
std::vector<FieldChange> consumerDrift(const nats::ConsumerConfig& want,
                                       const nats::ConsumerConfig& have);

bool anyImmutable(const std::vector<FieldChange>& changes);
// "maxAge 0s -> 24h, replicas 1 -> 3"
std::string describe(const std::vector<FieldChange>& changes);

}  // namespace osmosis::api
