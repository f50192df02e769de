#pragma once

#include <chrono>
#include <string>

namespace osmosis::kube {

// metav1.Time: RFC 3339 in UTC, seconds precision ("2026-11-23T19:02:10Z").
std::string formatTime(std::chrono::system_clock::time_point t);
// metav1.MicroTime: microseconds ("2026-11-23T19:02:10.123456Z").
std::string formatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace osmosis::kube
