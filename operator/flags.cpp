#include "operator/flags.hpp"

#include <algorithm>
#include <regex>
#include <tuple>

#include <CLI/CLI.hpp>

#include "common/http/server.hpp"
#include "common/nats/subject.hpp"
#include "common/util/duration.hpp"
#include "common/util/json_text.hpp"
#include "common/util/redact.hpp"
#include "common/version.hpp"

namespace osmosis::op {
namespace {

using std::chrono::hours;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A duration flag within [min, max], or a problem naming the flag.
std::optional<nanoseconds> within(const char* flag, const std::string& text, nanoseconds min,
                                  nanoseconds max, std::vector<std::string>* problems) {
  auto d = parseDurationWithin(text, min, max);
  if (!d) {
    problems->push_back(std::string("--") + flag + ": " + d.error().message);
    return std::nullopt;
  }
  return d.value();
}

std::optional<milliseconds> bounded(const char* flag, const std::string& text, nanoseconds min,
                                    nanoseconds max, std::vector<std::string>* problems) {
  auto d = within(flag, text, min, max, problems);
  if (!d) return std::nullopt;
  return std::chrono::duration_cast<milliseconds>(*d);
}

// A duration flag the engine counts in whole seconds: a fraction is refused, not truncated
// (1500ms is not 1s, and 500us is not 0s, which would mean off).
std::optional<seconds> boundedSeconds(const char* flag, const std::string& text, seconds min,
                                      seconds max, std::vector<std::string>* problems) {
  auto d = within(flag, text, min, max, problems);
  if (!d) return std::nullopt;
  if (*d % seconds(1) != nanoseconds(0)) {
    problems->push_back(std::string("--") + flag + ": " + text +
                        ": whole seconds only (e.g. 15s, 1m30s)");
    return std::nullopt;
  }
  return std::chrono::duration_cast<seconds>(*d);
}

}  // namespace

void addFlags(CLI::App& app, RawFlags* f) {
  f->sidecarImage = std::string("ghcr.io/osmosis-dev/osmosis-sidecar:") + kVersion;
  app.add_option("--kubeconfig", f->kubeconfig,
                 "kubeconfig file(s), colon-separated (default: in-cluster config)")
      ->envname("KUBECONFIG");
  app.add_option("--context", f->context, "kubeconfig context (default: its current-context)");
  app.add_option("--kube-api-qps", f->kubeQps, "sustained requests per second to the API server")
      ->check(CLI::Range(0.1, 10000.0))
      ->capture_default_str();
  app.add_option("--kube-api-burst", f->kubeBurst, "request burst to the API server")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--leader-elect", f->leaderElect,
                 "take part in leader election so only one replica acts")
      ->capture_default_str();
  app.add_option("--leader-election-namespace", f->leaseNamespace,
                 "namespace of the Lease (default: POD_NAMESPACE, else the kubeconfig's namespace)")
      ->envname("POD_NAMESPACE");
  app.add_option("--leader-election-id", f->leaseName, "name of the Lease")->capture_default_str();
  app.add_option("--leader-election-identity", f->identity,
                 "this replica's identity (default: POD_NAME or host_pid)");
  app.add_option("--leader-election-lease-duration", f->leaseDuration,
                 "how long a non-renewed lease stays valid (1s..1h)")
      ->capture_default_str();
  app.add_option("--leader-election-renew-deadline", f->renewDeadline,
                 "how long the leader keeps trying to renew")
      ->capture_default_str();
  app.add_option("--leader-election-retry-period", f->retryPeriod,
                 "how often to try to acquire or renew")
      ->capture_default_str();
  app.add_option("--http-address", f->httpAddress,
                 "where /healthz, /readyz and /metrics listen (host:port)")
      ->envname("OSMOSIS_HTTP_ADDRESS")
      ->capture_default_str();
  app.add_option("--watch-namespace", f->watchNamespaces,
                 "only reconcile Channels in this namespace; repeat the flag for several "
                 "(--watch-namespace a --watch-namespace b; default: all namespaces)")
      ->allow_extra_args(false)  // one value per flag: "--watch-namespace a b" is an error
      ->take_all();
  app.add_option("--resync-period", f->resync,
                 "how often each Channel is checked against NATS and its backlog refreshed "
                 "(1s..24h)")
      ->capture_default_str();
  app.add_option("--workers", f->workers, "Channels reconciled in parallel")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--scaler-workers", f->scalerWorkers,
                 "Channels the autoscaler evaluates in parallel")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--scale-up-max-step", f->scaleUpMaxStep,
                 "replicas added per scale-up at most (0: no limit)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--scaling-headroom", f->headroom,
                 "drain mode: capacity kept above the arrival rate (1.2 = 20% spare)")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  app.add_option("--scaling-tolerance", f->scalingTolerance,
                 "drain mode: a scale-up goes this share above the need, and a scale-down waits "
                 "until the need raised by it fits fewer replicas (a band against flapping; 0: "
                 "off)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  app.add_option("--idle-window-release", f->idleWindowRelease,
                 "a channel idle this long (nothing arrives, waits or is processed) stops holding "
                 "the stabilization window's replicas (0s: off, the window holds; up to 1h)")
      ->capture_default_str();
  app.add_option("--scale-down-step-interval", f->scaleDownStep,
                 "scale-down steps are at least this far apart (whole seconds, 1s..1h)")
      ->capture_default_str();
  app.add_flag("--pod-deletion-cost", f->podDeletionCost,
               "before a scale-down, mark the target's pods with "
               "controller.kubernetes.io/pod-deletion-cost from their reports, so idle pods are "
               "removed first (needs RBAC: pods patch)");
  app.add_option("--report-staleness", f->reportStaleness,
                 "sidecar reports older than this are ignored (500ms..10m)")
      ->capture_default_str();
  app.add_option("--report-subject-prefix", f->reportSubjectPrefix,
                 "sidecars report on <prefix>.<namespace>.<channel>; no Channel may use subjects "
                 "under it")
      ->envname("OSMOSIS_REPORT_SUBJECT_PREFIX")
      ->capture_default_str();
  app.add_option("--subject-grant", f->subjectGrants,
                 "NAMESPACE=PATTERN: lets Channels in NAMESPACE use subjects PATTERN covers, "
                 "beyond their own NAMESPACE.> (repeatable; docs/security.md)");
  app.add_option("--sidecar-image", f->sidecarImage,
                 "image of the sidecar injected into worker pods (spec.worker.injectSidecar)")
      ->capture_default_str();
  app.add_option("--sidecar-nats-url", f->sidecarNatsUrl,
                 "NATS URL injected sidecars use when the Channel names no Secret, without "
                 "credentials (default: --nats-url without its credentials)");
  struct Resource {
    const char* flag;
    std::string* value;
    const char* help;
  };
  for (const Resource& r : {
           Resource{"--sidecar-cpu-request", &f->sidecarCpuRequest,
                    "injected sidecar's CPU request"},
           Resource{"--sidecar-memory-request", &f->sidecarMemoryRequest,
                    "injected sidecar's memory request"},
           Resource{"--sidecar-cpu-limit", &f->sidecarCpuLimit, "injected sidecar's CPU limit"},
           Resource{"--sidecar-memory-limit", &f->sidecarMemoryLimit,
                    "injected sidecar's memory limit"},
       }) {
    app.add_option(r.flag, *r.value, std::string(r.help) + " (a quantity, or none)")
        ->capture_default_str();
  }
  nats::addFlags(app, &f->nats, &f->natsUrls);
}

bool isQuantity(const std::string& text) {
  static const std::regex kQuantity(
      R"(([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)");
  return text.size() <= 32 && std::regex_match(text, kQuantity);
}

std::vector<std::string> finish(const RawFlags& raw, Config* c) {
  std::vector<std::string> problems;
  c->kubeconfig = raw.kubeconfig;
  c->context = raw.context;
  c->kubeQps = raw.kubeQps;
  c->kubeBurst = raw.kubeBurst;
  c->leaderElect = raw.leaderElect;
  c->leaseNamespace = raw.leaseNamespace;
  c->leaseName = raw.leaseName;
  c->identity = raw.identity;
  // The Lease stores whole seconds in an int32; an hour is far beyond any sane election.
  if (auto d = bounded("leader-election-lease-duration", raw.leaseDuration, seconds(1), hours(1),
                       &problems))
    c->leaseDuration = *d;
  if (auto d = bounded("leader-election-renew-deadline", raw.renewDeadline, milliseconds(100),
                       hours(1), &problems))
    c->renewDeadline = *d;
  if (auto d = bounded("leader-election-retry-period", raw.retryPeriod, milliseconds(100), hours(1),
                       &problems))
    c->retryPeriod = *d;
  if (auto d = bounded("resync-period", raw.resync, seconds(1), hours(24), &problems))
    c->resync = *d;
  if (auto d = bounded("report-staleness", raw.reportStaleness, milliseconds(500),
                       std::chrono::minutes(10), &problems))
    c->reportStaleness = *d;
  if (auto s = boundedSeconds("scale-down-step-interval", raw.scaleDownStep, seconds(1), hours(1),
                              &problems))
    c->scaleDownStep = *s;
  if (auto s = boundedSeconds("idle-window-release", raw.idleWindowRelease, seconds(0), hours(1),
                              &problems))
    c->idleWindowRelease = *s;

  c->nats = raw.nats;
  c->nats.urls = nats::splitUrls(raw.natsUrls);
  c->nats.name = "osmosis-operator";
  c->nats.sharedDelivery = true;  // (a subscription per Channel: see the option)
  for (auto& p : nats::validate(c->nats))
    problems.push_back(p);

  if (auto listen = http::parseListenAddress(raw.httpAddress); !listen) {
    problems.push_back("--http-address: " + listen.error().message);
  } else {
    c->listenHost = listen->first;
    c->listenPort = listen->second;
  }
  // Each a namespace name (a DNS label), one per flag: a comma is refused, not split, so
  // "a,b" never silently means something else.
  static const std::regex kNamespace("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  c->watchNamespaces.clear();
  for (const auto& ns : raw.watchNamespaces) {
    if (ns.empty()) {
      problems.push_back(
          "--watch-namespace \"\": an empty namespace name (leave the flag out to watch all "
          "namespaces)");
    } else if (!std::regex_match(ns, kNamespace)) {
      std::string hint = ns.find(',') != std::string::npos
                             ? "one namespace per flag: repeat --watch-namespace for several"
                             : "one DNS label, e.g. shop";
      problems.push_back("--watch-namespace \"" + printableText(ns) + "\": not a namespace name (" +
                         hint + ")");
    } else if (std::find(c->watchNamespaces.begin(), c->watchNamespaces.end(), ns) ==
               c->watchNamespaces.end()) {
      c->watchNamespaces.push_back(ns);
    }
  }
  c->workers = raw.workers;
  c->scalerWorkers = raw.scalerWorkers;
  c->scaleUpMaxStep = raw.scaleUpMaxStep;
  c->headroom = raw.headroom;
  c->scalingTolerance = raw.scalingTolerance;
  c->podDeletionCost = raw.podDeletionCost;

  if (auto why = nats::subjectProblem(raw.reportSubjectPrefix, nats::Wildcards::kForbidden)) {
    problems.push_back("--report-subject-prefix \"" + raw.reportSubjectPrefix + "\": " + *why);
  }
  c->subjectPolicy.reportPrefix = raw.reportSubjectPrefix;
  for (const auto& text : raw.subjectGrants) {
    auto grant = api::parseSubjectGrant(text);
    if (!grant) {
      problems.push_back(grant.error().message);
    } else {
      c->subjectPolicy.grants.push_back(grant.value());
    }
  }

  c->sidecarImage = raw.sidecarImage;
  for (auto [flag, text, out] :
       {std::tuple{"--sidecar-cpu-request", &raw.sidecarCpuRequest, &c->sidecarCpuRequest},
        std::tuple{"--sidecar-memory-request", &raw.sidecarMemoryRequest, &c->sidecarMemoryRequest},
        std::tuple{"--sidecar-cpu-limit", &raw.sidecarCpuLimit, &c->sidecarCpuLimit},
        std::tuple{"--sidecar-memory-limit", &raw.sidecarMemoryLimit, &c->sidecarMemoryLimit}}) {
    // "none" (or an empty value) leaves the request or limit out of the sidecar's resources.
    if (*text == "none" || text->empty()) {
      out->clear();
    } else if (!isQuantity(*text)) {
      problems.push_back(std::string(flag) + " \"" + printableText(*text) +
                         "\": not a Kubernetes quantity (for example 50m, 0.5, 64Mi) or none");
    } else {
      *out = *text;
    }
  }
  if (!raw.sidecarNatsUrl.empty()) {
    // Injected as a plain env value into Deployments that anyone with read access sees.
    for (const auto& url : nats::splitUrls(raw.sidecarNatsUrl)) {
      if (hasUserinfo(url))
        problems.push_back("--sidecar-nats-url must not carry credentials (" + redactUrl(url) +
                           "): give sidecars credentials through a Channel's "
                           "spec.nats.secretRef");
    }
    c->sidecarNatsUrl = raw.sidecarNatsUrl;
  } else {
    std::string list;
    for (const auto& url : c->nats.urls) {
      c->sidecarUrlStripped = c->sidecarUrlStripped || hasUserinfo(url);
      list += (list.empty() ? "" : ",") + withoutUserinfo(url);
    }
    c->sidecarNatsUrl = list;
  }
  return problems;
}

}  // namespace osmosis::op
