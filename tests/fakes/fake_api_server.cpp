#include "tests/fakes/fake_api_server.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace osmosis::testing {
namespace {

using nlohmann::json;

std::string plural(const std::string& kind) {
  std::string p;
  for (char c : kind)
    p.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return p == "horizontalpodautoscaler" ? "horizontalpodautoscalers" : p + "s";
}

std::string decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> query(const std::string& target) {
  std::map<std::string, std::string> out;
  auto q = target.find('?');
  if (q == std::string::npos) return out;
  std::stringstream ss(target.substr(q + 1));
  for (std::string kv; std::getline(ss, kv, '&');) {
    auto eq = kv.find('=');
    out[decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : decode(kv.substr(eq + 1));
  }
  return out;
}

bool matches(const json& obj, const std::string& selector) {
  if (selector.empty()) return true;
  std::stringstream ss(selector);
  const json labels = obj["metadata"].value("labels", json::object());
  for (std::string term; std::getline(ss, term, ',');) {
    auto eq = term.find('=');
    if (eq == std::string::npos) return false;
    if (labels.value(term.substr(0, eq), std::string("\x01")) != term.substr(eq + 1)) return false;
  }
  return true;
}

std::string selectorOf(const json& deployment) {
  std::string out;
  const json labels =
      deployment["spec"].value("selector", json::object()).value("matchLabels", json::object());
  for (const auto& [k, v] : labels.items())
    out += (out.empty() ? "" : ",") + k + "=" + v.get<std::string>();
  return out;
}

// ".../namespaces/<ns>/<plural>/<name>" (not a collection).
bool namedObject(const std::string& path) {
  auto at = path.find("/namespaces/");
  if (at == std::string::npos) return false;
  std::string rest = path.substr(at + 12);  // "<ns>/<plural>[/<name>]"
  return std::count(rest.begin(), rest.end(), '/') >= 2;
}

// Server-side apply merges list-map entries by key; the conditions list is keyed by type.
void applyConditions(json& target, const json& conditions) {
  json merged = target.is_array() ? target : json::array();
  for (const auto& c : conditions) {
    bool replaced = false;
    for (auto& have : merged) {
      if (have.value("type", "") == c.value("type", "")) {
        have = c;
        replaced = true;
      }
    }
    if (!replaced) merged.push_back(c);
  }
  target = merged;
}

kube::HttpResponse reply(int status, const json& body) {
  return {status, body.dump(), ""};
}

kube::HttpResponse notFound(const std::string& path) {
  return reply(404, {{"kind", "Status"},
                     {"status", "Failure"},
                     {"reason", "NotFound"},
                     {"code", 404},
                     {"message", path + " not found (fake)"}});
}

}  // namespace

std::string objectPath(const std::string& apiVersion, const std::string& kind,
                       const std::string& ns, const std::string& name) {
  std::string path =
      apiVersion.find('/') == std::string::npos ? "/api/" + apiVersion : "/apis/" + apiVersion;
  if (!ns.empty()) path += "/namespaces/" + ns;
  return path + "/" + plural(kind) + (name.empty() ? "" : "/" + name);
}

void FakeApiServer::put(json object) {
  std::lock_guard lock(mu_);
  const auto& md = object["metadata"];
  std::string path = objectPath(object.value("apiVersion", ""), object.value("kind", ""),
                                md.value("namespace", ""), md.value("name", ""));
  object["metadata"]["resourceVersion"] = std::to_string(++resourceVersion_);
  objects_[path] = std::move(object);
}

json FakeApiServer::get(const std::string& apiVersion, const std::string& kind,
                        const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(objectPath(apiVersion, kind, ns, name));
  return it == objects_.end() ? json() : it->second;
}

void FakeApiServer::remove(const std::string& apiVersion, const std::string& kind,
                           const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  objects_.erase(objectPath(apiVersion, kind, ns, name));
}

std::vector<kube::HttpRequest> FakeApiServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeApiServer::count(const std::string& method, const std::string& pathPart) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& r : requests_)
    n += r.method == method && r.target.find(pathPart) != std::string::npos ? 1 : 0;
  return n;
}

Result<kube::HttpResponse> FakeApiServer::send(const kube::HttpRequest& request) {
  std::lock_guard lock(mu_);
  requests_.push_back(request);
  if (unavailable) return makeError(Error::Code::kUnavailable, "connection refused (fake)");
  return handle(request);
}

Result<kube::HttpResponse> FakeApiServer::stream(const kube::HttpRequest&,
                                                 const std::function<bool(std::string_view)>&,
                                                 kube::StopSource&) {
  return makeError(Error::Code::kInternal, "the fake API server does not watch");
}

kube::HttpResponse FakeApiServer::handle(const kube::HttpRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  const auto params = query(request.target);
  if (path == "/version") return reply(200, {{"major", "1"}, {"minor", "35"}});
  const bool scale = path.size() > 6 && path.compare(path.size() - 6, 6, "/scale") == 0;
  const bool status = path.size() > 7 && path.compare(path.size() - 7, 7, "/status") == 0;
  const std::string objPath = scale    ? path.substr(0, path.size() - 6)
                              : status ? path.substr(0, path.size() - 7)
                                       : path;
  auto it = objects_.find(objPath);
  if (request.method == "GET") {
    if (it != objects_.end()) {
      if (!scale) return reply(200, it->second);
      int replicas = it->second["spec"].value("replicas", 0);
      return reply(200,
                   {{"spec", {{"replicas", replicas}}},
                    {"status", {{"replicas", replicas}, {"selector", selectorOf(it->second)}}}});
    }
    // A list: every object directly under this path.
    json items = json::array();
    for (const auto& [p, obj] : objects_) {
      if (p.rfind(objPath + "/", 0) == 0 && p.find('/', objPath.size() + 1) == std::string::npos &&
          matches(obj, params.count("labelSelector") ? params.at("labelSelector") : ""))
        items.push_back(obj);
    }
    if (namedObject(objPath)) return notFound(path);
    return reply(200, {{"metadata", {{"resourceVersion", std::to_string(resourceVersion_)}}},
                       {"items", items}});
  }
  if (request.method == "DELETE") {
    if (it == objects_.end()) return notFound(path);
    objects_.erase(it);
    return reply(200, {{"kind", "Status"}, {"status", "Success"}});
  }
  json body = json::parse(request.body, nullptr, false);
  if (request.method == "POST") {
    std::string name = body["metadata"].value("name", "");
    body["metadata"]["resourceVersion"] = std::to_string(++resourceVersion_);
    objects_[path + "/" + name] = body;
    return reply(201, body);
  }
  // PATCH (merge or apply, both merged here) and PUT.
  const bool apply = request.contentType.find("apply-patch") != std::string::npos;
  if (it == objects_.end()) {
    if (!apply || scale || status) return notFound(path);
    it = objects_.emplace(objPath, json::object()).first;
  }
  if (scale) {
    it->second["spec"]["replicas"] = body["spec"]["replicas"];
  } else if (request.method == "PUT") {
    it->second = body;
  } else if (apply && body.contains("status") && body["status"].contains("conditions")) {
    json conditions = body["status"]["conditions"];
    body["status"].erase("conditions");
    it->second.merge_patch(body);
    applyConditions(it->second["status"]["conditions"], conditions);
  } else {
    it->second.merge_patch(body);
  }
  if (apply) it->second["metadata"]["managedFieldsFake"][params.at("fieldManager")] = true;
  it->second["metadata"]["resourceVersion"] = std::to_string(++resourceVersion_);
  return reply(200, it->second);
}

}  // namespace osmosis::testing
