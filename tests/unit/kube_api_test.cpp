#include <gtest/gtest.h>

#include "operator/kube/api/api_error.hpp"
#include "operator/kube/api/resource.hpp"

namespace osmosis::kube {
namespace {

TEST(ApiError, KeepsReasonMessageAndFieldCauses) {
  auto e = apiError(422, R"({"kind":"Status","status":"Failure","reason":"Invalid",
    "message":"Channel.osmosis.dev \"x\" is invalid: spec.scaling.maxReplicas: Invalid value: -1",
    "details":{"causes":[{"field":"spec.scaling.maxReplicas","message":"Invalid value: -1"}]},"code":422})",
                    "create channels shop/x");
  EXPECT_TRUE(isInvalid(e));
  EXPECT_EQ(e.code, Error::Code::kInvalidArgument);
  EXPECT_EQ(e.reason, "Invalid");
  EXPECT_NE(e.message.find("spec.scaling.maxReplicas"), std::string::npos);
  EXPECT_NE(e.message.find("create channels shop/x"), std::string::npos);
}

TEST(ApiError, CausesBecomeTheMessageWhenThereIsNone) {
  auto e = apiError(
      422,
      R"({"kind":"Status","reason":"Invalid","details":{"causes":[{"field":"a.b","message":"bad"}]}})",
      "x");
  EXPECT_NE(e.message.find("a.b: bad"), std::string::npos) << e.message;
}

TEST(ApiError, TypedPredicates) {
  EXPECT_TRUE(isNotFound(apiError(404, R"({"kind":"Status","reason":"NotFound"})", "x")));
  EXPECT_TRUE(isConflict(apiError(409, R"({"kind":"Status","reason":"Conflict"})", "x")));
  auto exists = apiError(409, R"({"kind":"Status","reason":"AlreadyExists"})", "x");
  EXPECT_TRUE(isAlreadyExists(exists));
  EXPECT_FALSE(isConflict(exists));
  EXPECT_EQ(exists.code, Error::Code::kAlreadyExists);
  EXPECT_TRUE(isForbidden(apiError(403, R"({"kind":"Status","reason":"Forbidden"})", "x")));
  EXPECT_TRUE(isTooManyRequests(apiError(429, "", "x")));
  EXPECT_TRUE(isRetryable(apiError(503, "", "x")));
  EXPECT_FALSE(isRetryable(apiError(404, "", "x")));
}

TEST(ApiError, GoneInsideA200StreamIsGone) {
  // The watch ERROR event: a Status object with code 410 inside a 200 response.
  auto e = apiError(
      200,
      R"js({"kind":"Status","status":"Failure","message":"too old resource version: 1 (42)","reason":"Expired","code":410})js",
      "watch");
  EXPECT_TRUE(isGone(e));
  EXPECT_EQ(e.httpStatus, 410);
}

TEST(ApiError, NonStatusBodiesStillSaySomethingUseful) {
  auto e = apiError(502, "<html>Bad Gateway</html>", "get x");
  EXPECT_EQ(e.code, Error::Code::kUnavailable);
  EXPECT_NE(e.message.find("Bad Gateway"), std::string::npos);
}

TEST(ResourcePath, CoreNamedGroupsSubresourcesAndAllNamespaces) {
  EXPECT_EQ(resourcePath(resources::configMaps(), "ns", "cm"),
            "/api/v1/namespaces/ns/configmaps/cm");
  EXPECT_EQ(resourcePath(resources::deployments(), "shop", "w", "scale"),
            "/apis/apps/v1/namespaces/shop/deployments/w/scale");
  EXPECT_EQ(resourcePath(resources::channels(), ""), "/apis/osmosis.dev/v1alpha1/channels");
  EXPECT_EQ(resourcePath(resources::namespaces(), "ignored", "x"), "/api/v1/namespaces/x");
}

TEST(QueryString, EncodesAndSkipsEmptyValues) {
  EXPECT_EQ(queryString({{"labelSelector", "app in (a,b)"}, {"limit", ""}, {"watch", "true"}}),
            "?labelSelector=app%20in%20%28a%2Cb%29&watch=true");
  EXPECT_EQ(queryString({}), "");
}

TEST(KnownResource, MapsApiVersionAndKind) {
  EXPECT_EQ(knownResource("apps/v1", "Deployment")->plural, "deployments");
  EXPECT_FALSE(knownResource("example.com/v1", "Widget").has_value());
}

}  // namespace
}  // namespace osmosis::kube
