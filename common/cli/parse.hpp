#pragma once

// Flag parsing shared by both binaries, on CLI11. The contract users see:
//   --help / --version print to stdout and exit 0;
//   an unknown or malformed flag prints what is wrong to stderr and exits 2.

#include <optional>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/log/logger.hpp"

namespace osmosis::cli {

inline constexpr int kExitUsage = 2;

// Adds --version (printing "<name> <version>") and --log-level.
void addCommonFlags(CLI::App& app, std::string* logLevel);

// Parses argv. Returns the exit code when the program should stop now (help, version,
// bad flags), or nullopt to go on.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                         std::ostream& err);

// Applies --log-level; an unknown level is a usage error (returns the exit code).
std::optional<int> applyLogLevel(const std::string& name, std::ostream& err);

// Env-var fallback for a flag, with the variable named in --help.
inline CLI::Option* withEnv(CLI::Option* opt, const std::string& var) {
  return opt->envname(var);
}

}  // namespace osmosis::cli
