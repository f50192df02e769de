#pragma once

// What the benchmark programs share: a results report printed as it goes and written to a
// file at the end, a control plane with a CRD installed, and a parallel loop. Header-only:
// each benchmark is one program.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/log/logger.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/nats_server.hpp"
#include "tests/fixtures/placeholder_worker.hpp"

namespace osmosis::bench {

// Lines printed at once and kept for the results file.
class Report {
 public:
  Report() { osmosis::log::Logger::global().setLevel(osmosis::log::Level::kWarn); }
  void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    text_ << line << "\n";
  }
  template <typename... Args>
  void sayf(const char* format, Args... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    say(buf);
  }
  void write(const std::string& path) const {
    std::ofstream(path) << text_.str();
    std::printf("results written to %s\n", path.c_str());
  }

 private:
  std::ostringstream text_;
};

// A fresh control plane with the CRD (a file path, or YAML text) established; null on failure
// (said on stderr).
inline std::unique_ptr<testing::ControlPlane> controlPlaneWithCrd(const std::string& crd,
                                                                  const std::string& crdName) {
  auto cp = testing::ControlPlane::start({});
  if (!cp) {
    std::fprintf(stderr, "%s\n", cp.error().message.c_str());
    return nullptr;
  }
  bool isFile = crd.find('\n') == std::string::npos;
  auto applied = isFile ? cp.value()->kubectl({"apply", "-f", crd})
                        : cp.value()->kubectl({"apply", "-f", "-"}, crd);
  auto established = cp.value()->kubectl(
      {"wait", "--for=condition=established", "crd/" + crdName, "--timeout=60s"});
  if (applied.code != 0 || established.code != 0) {
    std::fprintf(stderr, "CRD %s not established: %s%s\n", crdName.c_str(), applied.err.c_str(),
                 established.err.c_str());
    return nullptr;
  }
  return std::move(cp.value());
}

// A fresh control plane with the Channel CRD from crds/ established.
inline std::unique_ptr<testing::ControlPlane> controlPlaneWithChannels() {
  return controlPlaneWithCrd(testing::sourceDir() + "/crds/osmosis.dev_channels.yaml",
                             "channels.osmosis.dev");
}

// Starts `server` (nats-server with JetStream); false, said on stderr, when it cannot.
inline bool startNats(testing::NatsServer& server) {
  if (auto st = server.start(); !st) {
    std::fprintf(stderr, "nats-server: %s\n", st.error().message.c_str());
    return false;
  }
  return true;
}

// kubectl with `-n ns` on the plane (the plane outlives the function).
inline auto kubectlIn(testing::ControlPlane& plane, std::string ns) {
  return [&plane, ns = std::move(ns)](std::vector<std::string> args, const std::string& in = "") {
    args.insert(args.end(), {"-n", ns});
    return plane.kubectl(args, in);
  };
}

// Peak RSS (MB) and CPU seconds (user + system) of a process, from /proc.
struct Usage {
  double peakRssMb = 0;
  double rssMb = 0;
  double cpuSeconds = 0;
};
inline Usage usageOf(pid_t pid) {
  Usage u;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) u.peakRssMb = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmRSS:", 0) == 0) u.rssMb = std::stod(line.substr(6)) / 1024.0;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  u.cpuSeconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return u;
}

// The p-quantile (0..1) of `v`, nearest rank; 0 when empty.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename F>
void parallel(int n, int threads, F fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++)
        fn(i);
    });
  }
  for (auto& t : pool)
    t.join();
}

}  // namespace osmosis::bench
