#include "operator/kube/watch/watch_event.hpp"

namespace osmosis::kube {

const char* typeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "?";
}

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  auto bad = [&](const std::string& why) {
    std::string shown(line.substr(0, 200));
    return makeError(Error::Code::kInvalidArgument,
                     "malformed watch event (" + why + "): " + shown);
  };
  if (j.is_discarded()) return bad("not JSON");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return bad("no type");
  if (!j.contains("object") || !j["object"].is_object()) return bad("no object");
  WatchEvent ev;
  const std::string type = j["type"].get<std::string>();
  if (type == "ADDED")
    ev.type = WatchEvent::Type::kAdded;
  else if (type == "MODIFIED")
    ev.type = WatchEvent::Type::kModified;
  else if (type == "DELETED")
    ev.type = WatchEvent::Type::kDeleted;
  else if (type == "BOOKMARK")
    ev.type = WatchEvent::Type::kBookmark;
  else if (type == "ERROR")
    ev.type = WatchEvent::Type::kError;
  else
    return bad("unknown type " + type);
  ev.object = std::move(j["object"]);
  return ev;
}

std::string resourceVersionOf(const nlohmann::json& object) {
  const auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return "";
  const auto rv = md->find("resourceVersion");
  return rv != md->end() && rv->is_string() ? rv->get<std::string>() : "";
}

std::string keyOf(const nlohmann::json& object) {
  const auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return "";
  std::string name = md->value("name", "");
  std::string ns = md->value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace osmosis::kube
