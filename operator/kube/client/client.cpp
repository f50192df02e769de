#include "operator/kube/client/client.hpp"

#include <thread>

#include "common/log/logger.hpp"
#include "common/util/json_text.hpp"
#include "operator/kube/watch/line_splitter.hpp"

namespace osmosis::kube {
namespace {

std::string contentTypeFor(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string nameOf(const json& object) {
  const auto md = object.find("metadata");
  return md != object.end() && md->is_object() ? md->value("name", "") : "";
}

std::chrono::milliseconds retryAfter(const std::string& header) {
  try {
    int secs = std::stoi(header);
    return std::chrono::milliseconds(std::clamp(secs, 0, 10) * 1000);
  } catch (...) {
    return std::chrono::milliseconds(0);
  }
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport, ClientOptions options, const Clock& clock)
    : transport_(std::move(transport)),
      options_(options),
      clock_(clock),
      limiter_(options.qps, options.burst, clock) {}

Result<json> Client::call(const std::string& method, const std::string& target,
                          const std::string& body, const std::string& contentType,
                          const std::string& doing) {
  const bool idempotent = method == "GET";
  Backoff backoff(options_.retryBackoff, random_);
  for (int attempt = 0;; ++attempt) {
    limiter_.wait();
    auto resp = transport_->send({method, target, body, contentType});
    Error err;
    std::chrono::milliseconds serverWait{0};
    if (!resp) {
      err = resp.error();
      err.message = doing + ": " + err.message;
    } else if (resp->status >= 200 && resp->status < 300) {
      if (resp->body.empty()) return json::object();
      auto parsed = json::parse(resp->body, nullptr, false);
      if (parsed.is_discarded()) {
        return makeError(Error::Code::kInternal,
                         doing + ": the API server answered with invalid JSON");
      }
      return parsed;
    } else {
      err = apiError(resp->status, resp->body, doing);
      serverWait = retryAfter(resp->retryAfter);
    }
    bool retry =
        attempt < options_.maxRetries && (idempotent ? isRetryable(err) : isTooManyRequests(err));
    if (!retry) return err;
    auto delay = std::max(backoff.next(), serverWait);
    log::debug("retrying API request", {{"request", doing},
                                        {"attempt", attempt + 1},
                                        {"delayMs", delay.count()},
                                        {"error", err.message}});
    std::this_thread::sleep_for(delay);
  }
}

Result<json> Client::get(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string target = resourcePath(r, ns, name, subresource);
  return call("GET", target, "", "", "get " + r.plural + " " + (ns.empty() ? "" : ns + "/") + name);
}

Result<json> Client::listPage(const Resource& r, const std::string& ns, const ListOptions& o) {
  std::string target =
      resourcePath(r, ns) + queryString({{"labelSelector", o.labelSelector},
                                         {"fieldSelector", o.fieldSelector},
                                         {"limit", o.limit > 0 ? std::to_string(o.limit) : ""},
                                         {"continue", o.continueToken},
                                         {"resourceVersion", o.resourceVersion}});
  return call("GET", target, "", "", "list " + r.plural + (ns.empty() ? "" : " in " + ns));
}

Result<ListResult> Client::list(const Resource& r, const std::string& ns, ListOptions o) {
  ListResult out;
  bool restarted = false;
  for (;;) {
    auto page = listPage(r, ns, o);
    if (!page) {
      // An expired continue token: start over once, from the latest state.
      if (isGone(page.error()) && !o.continueToken.empty() && !restarted) {
        restarted = true;
        out = {};
        o.continueToken.clear();
        o.resourceVersion.clear();
        continue;
      }
      return page.error();
    }
    json& body = page.value();
    if (body.contains("items") && body["items"].is_array()) {
      for (auto& item : body["items"])
        out.items.push_back(std::move(item));
    }
    const json& md = body.contains("metadata") ? body["metadata"] : json::object();
    out.resourceVersion = md.value("resourceVersion", "");
    std::string next = md.value("continue", "");
    if (next.empty()) return out;
    o.continueToken = next;
    o.resourceVersion.clear();  // not allowed together with continue
  }
}

Result<json> Client::create(const Resource& r, const std::string& ns, const json& object) {
  return call("POST", resourcePath(r, ns), dumpJson(object), "application/json",
              "create " + r.plural + " " + (ns.empty() ? "" : ns + "/") + nameOf(object));
}

Result<json> Client::update(const Resource& r, const std::string& ns, const json& object,
                            const std::string& subresource) {
  std::string name = nameOf(object);
  if (name.empty())
    return makeError(Error::Code::kInvalidArgument, "update " + r.plural + ": object has no name");
  return call("PUT", resourcePath(r, ns, name, subresource), dumpJson(object), "application/json",
              "update " + r.plural + " " + (ns.empty() ? "" : ns + "/") + name +
                  (subresource.empty() ? "" : "/" + subresource));
}

Result<json> Client::patch(const Resource& r, const std::string& ns, const std::string& name,
                           PatchType type, const json& patchBody, const PatchOptions& o) {
  if (type == PatchType::kApply && o.fieldManager.empty()) {
    return makeError(Error::Code::kInvalidArgument, "server-side apply needs a field manager");
  }
  std::string target =
      resourcePath(r, ns, name, o.subresource) +
      queryString({{"fieldManager", o.fieldManager}, {"force", o.force ? "true" : ""}});
  return call("PATCH", target, dumpJson(patchBody), contentTypeFor(type),
              "patch " + r.plural + " " + (ns.empty() ? "" : ns + "/") + name +
                  (o.subresource.empty() ? "" : "/" + o.subresource));
}

Status Client::remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& o) {
  json body = json::object();
  if (!o.propagationPolicy.empty()) body["propagationPolicy"] = o.propagationPolicy;
  if (!o.preconditionResourceVersion.empty()) {
    body["preconditions"] = {{"resourceVersion", o.preconditionResourceVersion}};
  }
  auto r2 =
      call("DELETE", resourcePath(r, ns, name), body.empty() ? "" : dumpJson(body),
           "application/json", "delete " + r.plural + " " + (ns.empty() ? "" : ns + "/") + name);
  if (!r2) return r2.error();
  return {};
}

Result<json> Client::setReplicas(const Resource& r, const std::string& ns, const std::string& name,
                                 int32_t replicas) {
  PatchOptions o;
  o.subresource = "scale";
  return patch(r, ns, name, PatchType::kMerge, {{"spec", {{"replicas", replicas}}}}, o);
}

Status Client::watch(const Resource& r, const std::string& ns, const WatchOptions& o,
                     const std::function<bool(WatchEvent&)>& onEvent, StopSource& stop) {
  std::string target =
      resourcePath(r, ns) +
      queryString(
          {{"watch", "true"},
           {"resourceVersion", o.resourceVersion},
           {"allowWatchBookmarks", o.allowBookmarks ? "true" : ""},
           {"labelSelector", o.labelSelector},
           {"fieldSelector", o.fieldSelector},
           {"timeoutSeconds", o.timeoutSeconds > 0 ? std::to_string(o.timeoutSeconds) : ""}});
  const std::string doing = "watch " + r.plural + (ns.empty() ? "" : " in " + ns);
  limiter_.wait();
  LineSplitter lines;
  std::optional<Error> ended;
  auto onChunk = [&](std::string_view chunk) {
    bool keepGoing = true;
    bool fits = lines.feed(chunk, [&](std::string_view line) {
      if (!keepGoing) return;
      auto ev = parseWatchEvent(line);
      if (!ev) {
        ended = Error{Error::Code::kInvalidArgument, doing + ": " + ev.error().message, 0, ""};
        keepGoing = false;
        return;
      }
      if (ev->type == WatchEvent::Type::kError) {
        ended = apiError(200, dumpJson(ev->object), doing);
        keepGoing = false;
        return;
      }
      keepGoing = onEvent(ev.value());
    });
    if (!fits) {
      ended = makeError(Error::Code::kInvalidArgument,
                        doing + ": a watch event exceeded the size limit");
      return false;
    }
    return keepGoing;
  };
  auto resp = transport_->stream({"GET", target, "", ""}, onChunk, stop);
  if (!resp) return resp.error();
  if (resp->status < 200 || resp->status >= 300) return apiError(resp->status, resp->body, doing);
  if (ended) return *ended;
  return {};
}

Result<json> Client::serverVersion() {
  return call("GET", "/version", "", "", "read the server version");
}

Result<Resource> Client::resourceFor(const std::string& apiVersion, const std::string& kind) {
  if (auto known = knownResource(apiVersion, kind)) return *known;
  const std::string key = apiVersion + "/" + kind;
  {
    std::lock_guard lock(discoveryMu_);
    if (auto it = discovered_.find(key); it != discovered_.end()) return it->second;
  }
  auto slash = apiVersion.find('/');
  std::string group = slash == std::string::npos ? "" : apiVersion.substr(0, slash);
  std::string version = slash == std::string::npos ? apiVersion : apiVersion.substr(slash + 1);
  std::string target = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  auto list = call("GET", target, "", "", "discover " + apiVersion);
  if (!list) return list.error();
  if (list->contains("resources") && (*list)["resources"].is_array()) {
    for (const auto& res : (*list)["resources"]) {
      std::string name = res.value("name", "");
      if (res.value("kind", "") != kind || name.find('/') != std::string::npos) continue;
      Resource r{group, version, name, kind, res.value("namespaced", true)};
      std::lock_guard lock(discoveryMu_);
      discovered_[key] = r;
      return r;
    }
  }
  return makeError(Error::Code::kNotFound,
                   "the API server has no kind " + kind + " in " + apiVersion);
}

}  // namespace osmosis::kube
