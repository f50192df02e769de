// Leader-election settings that cannot work together are refused before anything starts
// (client-go's rules: lease > renew deadline > 1.2 x retry period).

#include <gtest/gtest.h>

#include "operator/kube/leader/leader_elector.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;

LeaderElectionConfig valid() {
  LeaderElectionConfig c;
  c.ns = "osmosis";
  c.name = "osmosis-operator";
  c.identity = "pod-a";
  return c;
}

TEST(LeaderElectionConfig, DefaultsAreValid) {
  EXPECT_TRUE(validate(valid()).empty());
}

TEST(LeaderElectionConfig, SettingsThatCannotWorkTogetherAreNamed) {
  struct Case {
    const char* what;
    void (*change)(LeaderElectionConfig&);
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"no name", [](LeaderElectionConfig& e) { e.name.clear(); },
            "leader election needs a lease name"},
           {"no namespace", [](LeaderElectionConfig& e) { e.ns.clear(); },
            "leader election needs a lease namespace"},
           {"no identity", [](LeaderElectionConfig& e) { e.identity.clear(); },
            "leader election needs an identity"},
           {"lease == renew", [](LeaderElectionConfig& e) { e.leaseDuration = e.renewDeadline; },
            "lease duration must be greater than renew deadline"},
           {"renew == 1.2 x retry",
            [](LeaderElectionConfig& e) {
              e.retryPeriod = 5000ms;
              e.renewDeadline = 6000ms;
            },
            "renew deadline must be greater than 1.2 x retry period"},
           {"retry 0", [](LeaderElectionConfig& e) { e.retryPeriod = 0ms; },
            "retry period must be positive"},
       }) {
    LeaderElectionConfig e = valid();
    c.change(e);
    auto problems = validate(e);
    ASSERT_EQ(problems.size(), 1u) << c.what;
    EXPECT_EQ(problems.front(), c.says) << c.what;
  }
}

}  // namespace
}  // namespace osmosis::kube
