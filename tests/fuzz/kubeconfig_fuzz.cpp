// A kubeconfig (user-supplied YAML): an error or a config, never a crash.
#include "operator/kube/config/rest_config.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(asText(data, size));
  auto cfg = osmosis::kube::loadKubeconfig(
      {"/fuzz/config"}, "", [&](const std::string& path) -> osmosis::Result<std::string> {
        if (path == "/fuzz/config") return text;
        return osmosis::makeError(osmosis::Error::Code::kNotFound, path + " not found");
      });
  if (cfg) FUZZ_REQUIRE(cfg->server.rfind("http", 0) == 0);
  return 0;
}
