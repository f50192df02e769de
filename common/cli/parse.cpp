#include "common/cli/parse.hpp"

#include "common/version.hpp"

namespace osmosis::cli {

void addCommonFlags(CLI::App& app, std::string* logLevel) {
  app.set_version_flag("--version", app.get_name() + " " + kVersion);
  app.add_option("--log-level", *logLevel, "Log level: debug, info, warn, error")
      ->envname("OSMOSIS_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error"}))
      ->capture_default_str();
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                         std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    err << app.get_name() << ": " << e.what() << "\n"
        << "Run '" << app.get_name() << " --help' for usage.\n";
    return kExitUsage;
  }
  return std::nullopt;
}

std::optional<int> applyLogLevel(const std::string& name, std::ostream& err) {
  auto level = log::parseLevel(name);
  if (!level) {
    err << "invalid --log-level \"" << name << "\": use debug, info, warn or error\n";
    return kExitUsage;
  }
  log::Logger::global().setLevel(*level);
  return std::nullopt;
}

}  // namespace osmosis::cli
