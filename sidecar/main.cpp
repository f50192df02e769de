// osmosis-sidecar: pulls a Channel's messages and hands them to the worker app over HTTP.
// This build carries the process skeleton (flags, logging, signals, NATS options); dispatch
// and reporting arrive with their issue.

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

  CLI::App app{"Osmosis sidecar: pulls a channel's messages and delivers them to the worker app",
               "osmosis-sidecar"};
  std::string logLevel = "info";
  std::string natsUrls = "nats://127.0.0.1:4222";
  osmosis::nats::ConnectionOptions nats;
  std::string mode = "dispatch";
  osmosis::cli::addCommonFlags(app, &logLevel);
  app.add_option("--mode", mode, "dispatch: deliver messages to the app; report: only report")
      ->envname("OSMOSIS_MODE")
      ->check(CLI::IsMember({"dispatch", "report"}))
      ->capture_default_str();
  osmosis::nats::addFlags(app, &nats, &natsUrls);
  if (auto code = osmosis::cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = osmosis::cli::applyLogLevel(logLevel, std::cerr)) return *code;

  nats.urls = osmosis::nats::splitUrls(natsUrls);
  nats.name = "osmosis-sidecar";
  if (auto problems = osmosis::nats::validate(nats); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "osmosis-sidecar: " << p << "\n";
    return osmosis::cli::kExitUsage;
  }

  osmosis::log::info("starting", {{"version", osmosis::kVersion},
                                  {"component", "sidecar"},
                                  {"mode", mode},
                                  {"natsUrls", nats.urls}});
  shutdown.wait();
  osmosis::log::info("stopped", {{"component", "sidecar"}});
  nats_Close();
  return 0;
}
