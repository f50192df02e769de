// osmosis-operator: provisions JetStream streams/consumers for Channels and scales workers.
// This build carries the process skeleton (flags, logging, signals, NATS options); the
// controllers arrive with their issues.

#include <iostream>
#include <string>

#include <nats/nats.h>

#include "common/cli/parse.hpp"
#include "common/log/logger.hpp"
#include "common/nats/options.hpp"
#include "common/process/shutdown.hpp"
#include "common/version.hpp"

int main(int argc, char** argv) {
  auto& shutdown = osmosis::ShutdownSignal::install();

  CLI::App app{"Osmosis operator: NATS JetStream channels with backlog-driven worker scaling",
               "osmosis-operator"};
  std::string logLevel = "info";
  std::string kubeconfig;
  std::string natsUrls = "nats://127.0.0.1:4222";
  osmosis::nats::ConnectionOptions nats;
  osmosis::cli::addCommonFlags(app, &logLevel);
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (default: in-cluster config)")
      ->envname("KUBECONFIG");
  osmosis::nats::addFlags(app, &nats, &natsUrls);
  if (auto code = osmosis::cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = osmosis::cli::applyLogLevel(logLevel, std::cerr)) return *code;

  nats.urls = osmosis::nats::splitUrls(natsUrls);
  nats.name = "osmosis-operator";
  if (auto problems = osmosis::nats::validate(nats); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "osmosis-operator: " << p << "\n";
    return osmosis::cli::kExitUsage;
  }

  osmosis::log::info("starting", {{"version", osmosis::kVersion},
                                  {"component", "operator"},
                                  {"natsUrls", nats.urls},
                                  {"kubeconfig", kubeconfig.empty() ? "in-cluster" : kubeconfig}});
  shutdown.wait();
  osmosis::log::info("stopped", {{"component", "operator"}});
  nats_Close();
  return 0;
}
