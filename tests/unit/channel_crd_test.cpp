// One source of truth for the Channel schema: the CRD (crds/osmosis.dev_channels.yaml) states
// defaults and bounds for the API server; api::parseChannel states them for the operator. This
// test walks every field of the CRD and checks, field by field, that the two agree: a default
// the CRD fills in is the one the parser assumes, a bound the CRD enforces is the parser's, an
// enum's values are the parser's, a pattern accepts what the parser accepts. A change to one
// without the other fails here.

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "operator/api/spec.hpp"

namespace osmosis::api {
namespace {

using nlohmann::json;

json toJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n)
        o[kv.first.as<std::string>()] = toJson(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n)
        a.push_back(toJson(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      // Typed the way the schema means them (yaml-cpp keeps scalars as text).
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      try {
        size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

json schema() {
  YAML::Node crd =
      YAML::LoadFile(std::string(OSMOSIS_SOURCE_DIR) + "/crds/osmosis.dev_channels.yaml");
  return toJson(crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

// Every leaf property under spec, with its path ("spec.stream.maxAge") and schema.
void leaves(const json& node, const std::string& path,
            const std::function<void(const std::string&, const json&)>& visit) {
  if (node.value("type", "") == "object" && node.contains("properties")) {
    for (const auto& [name, child] : node["properties"].items())
      leaves(child, path + "." + name, visit);
    return;
  }
  visit(path, node);
}

json channelWith(const std::string& path, const json& value) {
  json c = {{"metadata", {{"namespace", "shop"}, {"name", "orders"}}},
            {"spec", {{"worker", {{"scaleTargetRef", {{"name", "w"}}}}}}}};
  json* at = &c;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (dot == std::string::npos) {
      (*at)[key] = value;
      return c;
    }
    at = &(*at)[key];
    start = dot + 1;
  }
}

bool refuses(const ParsedChannel& p, const std::string& path) {
  for (const auto& problem : p.problems)
    if (problem.field.rfind(path, 0) == 0) return true;
  return false;
}

TEST(ChannelCrd, EveryDefaultIsTheOneTheOperatorAssumes) {
  const ParsedChannel bare = parseChannel(channelWith("spec.stream", json::object()));
  ASSERT_TRUE(bare.problems.empty()) << describe(bare.problems);
  int checked = 0;
  leaves(schema()["properties"]["spec"], "spec", [&](const std::string& path, const json& s) {
    if (!s.contains("default") || s.value("type", "") == "object") return;
    ParsedChannel explicitDefault = parseChannel(channelWith(path, s["default"]));
    EXPECT_TRUE(explicitDefault.problems.empty())
        << path << ": " << describe(explicitDefault.problems);
    EXPECT_TRUE(explicitDefault.spec == bare.spec)
        << path << ": the CRD's default " << s["default"].dump()
        << " is not what the operator assumes when the field is absent";
    ++checked;
  });
  EXPECT_GE(checked, 20) << "the walk found the defaults";
}

TEST(ChannelCrd, EveryBoundAndEnumIsTheOperators) {
  int checked = 0;
  leaves(schema()["properties"]["spec"], "spec", [&](const std::string& path, const json& s) {
    const std::string type = s.value("type", "");
    if (type == "integer") {
      for (const char* bound : {"minimum", "maximum"}) {
        if (!s.contains(bound)) continue;
        const int64_t v = s[bound].get<int64_t>();
        const int64_t beyond = std::string(bound) == "minimum" ? v - 1 : v + 1;
        // (minReplicas may not exceed maxReplicas: a rule across fields, not this bound's.)
        auto with = [&](int64_t value) {
          json c = channelWith(path, value);
          if (path == "spec.scaling.minReplicas") c["spec"]["scaling"]["maxReplicas"] = 10000;
          return c;
        };
        EXPECT_FALSE(refuses(parseChannel(with(v)), path)) << path << " = " << v;
        EXPECT_TRUE(refuses(parseChannel(with(beyond)), path))
            << path << " = " << beyond << " passes the operator but not the CRD's " << bound;
        ++checked;
      }
    }
    if (s.contains("enum")) {
      for (const auto& v : s["enum"]) {
        EXPECT_FALSE(refuses(parseChannel(channelWith(path, v)), path)) << path << " = " << v;
      }
      EXPECT_TRUE(refuses(parseChannel(channelWith(path, "NotOneOfThem")), path)) << path;
      ++checked;
    }
  });
  EXPECT_GE(checked, 15);
}

// The CEL rules bounding durations (duration(self) <= duration('N')) are the parser's bounds.
TEST(ChannelCrd, EveryDurationBoundIsTheOperators) {
  int checked = 0;
  auto visit = [&](const std::string& path, const json& s) {
    for (const auto& rule : s.value("x-kubernetes-validations", json::array())) {
      static const std::regex kMax(R"(duration\(self\) <= duration\('([0-9]+h)'\))");
      std::smatch m;
      const std::string text = rule.value("rule", "");
      if (!std::regex_search(text, m, kMax)) continue;
      const std::string max = m[1];
      auto at = [&](const std::string& d) {
        return path.find("backoff") != std::string::npos ? json::array({d}) : json(d);
      };
      const std::string field = path.find("backoff") != std::string::npos ? path : path;
      EXPECT_FALSE(refuses(parseChannel(channelWith(field, at(max))), path)) << path << " " << max;
      EXPECT_TRUE(refuses(parseChannel(channelWith(field, at(max + "1s"))), path))
          << path << ": " << max << "1s passes the operator but not the CRD";
      ++checked;
    }
  };
  json spec = schema()["properties"]["spec"];
  leaves(spec, "spec", visit);
  visit("spec.consumer.backoff", spec["properties"]["consumer"]["properties"]["backoff"]["items"]);
  EXPECT_GE(checked, 4);
}

// A pattern and the parser accept the same strings, over probes that matter: JSON and header
// breakers, wildcards, paths.
TEST(ChannelCrd, EveryPatternAcceptsWhatTheOperatorAccepts) {
  const std::vector<std::string> probes = {"shop.orders.>",
                                           "shop.*.created",
                                           "shop",
                                           "shop.a-b_c",
                                           "shop.x=y+z@%/#",
                                           "shop..x",
                                           "shop.x.",
                                           ".shop",
                                           "shop.x*",
                                           "shop.>.x",
                                           "shop.a b",
                                           "shop.a\"b",
                                           "shop.a,b",
                                           "shop.a:b",
                                           "shop.a{b}",
                                           "shop.\xc3\xa9",
                                           "/",
                                           "/in",
                                           "/x?y=1",
                                           "/x y",
                                           "/x\r\nHost: a",
                                           "/%2F",
                                           "/%zz",
                                           "in",
                                           "24h",
                                           "1m30s",
                                           "0",
                                           "0.5s",
                                           "a day",
                                           "-1s",
                                           "1h30"};
  int checked = 0;
  leaves(schema()["properties"]["spec"], "spec", [&](const std::string& path, const json& s) {
    if (!s.contains("pattern") && !(s.contains("items") && s["items"].contains("pattern"))) return;
    const bool list = s.value("type", "") == "array";
    const std::regex pattern(list ? s["items"]["pattern"].get<std::string>()
                                  : s["pattern"].get<std::string>());
    for (const auto& probe : probes) {
      const bool crd = std::regex_search(probe, pattern);
      const json value = list ? json::array({probe}) : json(probe);
      ParsedChannel p = parseChannel(channelWith(path, value));
      // The operator may refuse more (subject ownership, overlaps, bounds); never less.
      if (!crd) {
        EXPECT_TRUE(refuses(p, path)) << path << ": the operator takes \"" << probe << "\"";
      }
    }
    ++checked;
  });
  EXPECT_GE(checked, 6);
}

// The examples users copy (crds/examples/) are Channels the operator takes as they are.
TEST(ChannelCrd, EveryExampleChannelParsesWithoutProblems) {
  int channels = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(OSMOSIS_SOURCE_DIR) + "/crds/examples")) {
    for (const auto& doc : YAML::LoadAllFromFile(entry.path().string())) {
      json obj = toJson(doc);
      if (obj.value("kind", "") != "Channel") continue;
      ParsedChannel p = parseChannel(obj);
      EXPECT_TRUE(p.problems.empty()) << entry.path() << ": " << describe(p.problems);
      if (entry.path().filename() == "gateway.yaml") {
        EXPECT_TRUE(p.spec.gateway.enabled);
        EXPECT_EQ(p.spec.gateway.publishersSecret, "orders-publishers");
      }
      ++channels;
    }
  }
  EXPECT_GE(channels, 4);  // minimal, full, memory-stream-delete, gateway, ...
}

}  // namespace
}  // namespace osmosis::api
