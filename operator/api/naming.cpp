#include "operator/api/naming.hpp"

#include <cctype>
#include <cstdio>
#include <functional>

namespace osmosis::api {

std::string streamName(const std::string& ns, const std::string& name) {
  std::string out;
  for (char c : ns + "_" + name)
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  // JetStream keeps a directory per stream; stay well under file-name limits.
  constexpr size_t kMax = 120;
  if (out.size() > kMax) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016zX", std::hash<std::string>{}(ns + "/" + name));
    out = out.substr(0, kMax - 17) + "_" + hash;
  }
  return out;
}

std::string resultsStreamName(const std::string& ns, const std::string& name) {
  return streamName(ns, name) + "_RESULTS";
}

std::string gatewayPath(const std::string& ns, const std::string& name) {
  return "/v1/namespaces/" + ns + "/channels/" + name + "/messages";
}

std::vector<std::string> defaultSubjects(const std::string& ns, const std::string& name) {
  return {ns + "." + name + ".>"};
}

std::string reportSubject(const std::string& ns, const std::string& name) {
  return "osmosis.report." + ns + "." + name;
}

}  // namespace osmosis::api
