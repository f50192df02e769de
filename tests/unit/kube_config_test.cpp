#include <map>

#include <gtest/gtest.h>

#include "operator/kube/config/rest_config.hpp"

namespace osmosis::kube {
namespace {

struct Files {
  std::map<std::string, std::string> files;
  FileReader reader() const {
    return [this](const std::string& path) -> Result<std::string> {
      auto it = files.find(path);
      if (it == files.end())
        return makeError(Error::Code::kNotFound, "cannot read " + path + ": No such file");
      return it->second;
    };
  }
};

const char* kAdmin = R"(
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.crt
contexts:
- name: admin
  context: {cluster: local, user: admin, namespace: shop}
- name: viewer
  context: {cluster: local, user: viewer}
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: viewer
  user:
    token: abc
)";

TEST(Kubeconfig, CurrentContextWithCertDataAndRelativeCaFile) {
  Files f{{{"/home/u/.kube/config", kAdmin}, {"/home/u/.kube/ca.crt", "CA-PEM"}}};
  auto c = loadKubeconfig({"/home/u/.kube/config"}, "", f.reader());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->caPem, "CA-PEM");
  EXPECT_EQ(c->clientCertPem, "CERT");
  EXPECT_EQ(c->clientKeyPem, "KEY");
  EXPECT_EQ(c->defaultNamespace, "shop");
}

TEST(Kubeconfig, ExplicitContextAndToken) {
  Files f{{{"/k", kAdmin}, {"/ca.crt", "CA"}}};
  auto c = loadKubeconfig({"/k"}, "viewer", f.reader());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->token, "abc");
  EXPECT_TRUE(c->clientCertPem.empty());
  EXPECT_EQ(c->defaultNamespace, "default");
}

TEST(Kubeconfig, MergedFilesFirstDefinitionWins) {
  const char* second = R"(
current-context: other
clusters:
- name: local
  cluster: {server: "https://shadowed:1"}
- name: remote
  cluster: {server: "https://remote:443", insecure-skip-tls-verify: true}
contexts:
- name: other
  context: {cluster: remote, user: viewer}
users:
- name: viewer
  user: {token: shadowed}
)";
  Files f{{{"/a", kAdmin}, {"/b", second}, {"/ca.crt", "CA"}}};
  auto c = loadKubeconfig({"/a", "/b"}, "", f.reader());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");  // current-context from the first file
  auto other = loadKubeconfig({"/a", "/b"}, "other", f.reader());
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->server, "https://remote:443");
  EXPECT_TRUE(other->insecureSkipTlsVerify);
  EXPECT_EQ(other->token, "abc");  // "viewer" from the first file wins
  // A missing file in a list is skipped, as kubectl does.
  EXPECT_TRUE(loadKubeconfig({"/missing", "/a"}, "", f.reader()).ok());
}

TEST(Kubeconfig, BadInputSaysWhatIsWrong) {
  struct Case {
    std::string text;
    std::string context;
    std::string says;
  };
  std::vector<Case> cases = {
      {"clusters: [", "", "not valid YAML"},
      {"- a\n- b\n", "", "not a YAML mapping"},
      {"current-context: x\n", "", "no context named \"x\""},
      {"clusters: {}\n", "", "must be a list"},
      {"contexts:\n- name: c\n  context: {cluster: nope}\ncurrent-context: c\n", "",
       "cluster \"nope\""},
      {"clusters:\n- name: k\n  cluster: {server: ftp://x}\ncontexts:\n- name: c\n  context: "
       "{cluster: k}\n",
       "c", "no valid server URL"},
      {"clusters:\n- name: k\n  cluster: {server: 'https://x', certificate-authority-data: "
       "'@@'}\ncontexts:\n- name: c\n  "
       "context: {cluster: k}\n",
       "c", "not valid base64"},
      {"clusters:\n- name: k\n  cluster: {server: 'https://x', certificate-authority: "
       "/nope.crt}\ncontexts:\n- name: "
       "c\n  context: {cluster: k}\n",
       "c", "/nope.crt"},
      {"clusters:\n- name: k\n  cluster: {server: 'https://x'}\ncontexts:\n- name: c\n  context: "
       "{cluster: k, user: "
       "u}\nusers:\n- name: u\n  user: {exec: {command: aws}}\n",
       "c", "exec"},
      {"clusters:\n- name: k\n  cluster: {server: 'https://x'}\ncontexts:\n- name: c\n  context: "
       "{cluster: k, user: "
       "u}\nusers:\n- name: u\n  user: {client-certificate-data: Q0VSVA==}\n",
       "c", "without a key"},
      {"", "", "no usable kubeconfig"},
      {"clusters:\n- cluster: {server: 'https://x'}\n", "", "has no name"},
  };
  for (const auto& c : cases) {
    Files f{{{"/k", c.text}}};
    auto r = loadKubeconfig({"/k"}, c.context, f.reader());
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, Error::Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << "want '" << c.says << "' in: " << r.error().message;
  }
  Files none;
  auto missing = loadKubeconfig({"/only"}, "", none.reader());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/only"), std::string::npos);
}

TEST(Kubeconfig, PathsFromKubeconfigVariableOrHome) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const std::string& n) { return vars.count(n) ? vars.at(n) : std::string(); };
  };
  EXPECT_EQ(kubeconfigPaths(env({{"KUBECONFIG", "/a::/b"}})),
            (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(kubeconfigPaths(env({{"HOME", "/root"}})),
            (std::vector<std::string>{"/root/.kube/config"}));
}

TEST(InCluster, ReadsServiceAccountFiles) {
  Files f{{{"/sa/token", "tok\n"}, {"/sa/ca.crt", "CA"}, {"/sa/namespace", "osmosis-system"}}};
  auto env = [](const std::string& n) -> std::string {
    if (n == "KUBERNETES_SERVICE_HOST") return "fd00::1";
    if (n == "KUBERNETES_SERVICE_PORT") return "443";
    return "";
  };
  auto c = inClusterConfig(env, f.reader(), "/sa");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->tokenFile, "/sa/token");
  EXPECT_EQ(c->caPem, "CA");
  EXPECT_EQ(c->defaultNamespace, "osmosis-system");
  auto outside =
      inClusterConfig([](const std::string&) { return std::string(); }, f.reader(), "/sa");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("--kubeconfig"), std::string::npos);
}

TEST(Base64, DecodesStandardAndRejectsGarbage) {
  EXPECT_EQ(base64Decode("aGVsbG8gd29ybGQ=").value(), "hello world");
  EXPECT_EQ(base64Decode("aGVs\nbG8=").value(), "hello");
  EXPECT_FALSE(base64Decode("a$b=").ok());
  EXPECT_FALSE(base64Decode("aGVsbG8=x").ok());
}

}  // namespace
}  // namespace osmosis::kube
