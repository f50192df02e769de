# Gateway tests (unit, integration); included from tests/CMakeLists.txt.

# Unit: pure logic, no servers.
add_executable(osmosis_gateway_unit_tests unit/gateway_pure_test.cpp)
target_link_libraries(osmosis_gateway_unit_tests PRIVATE osmosis_gateway GTest::gtest_main
  osmosis_warnings)
gtest_discover_tests(osmosis_gateway_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# The HTTP server's streams (chunked and WebSocket) on loopback, with curl and python3-websockets.
add_executable(osmosis_http_stream_tests integration/http_stream_test.cpp)
target_link_libraries(osmosis_http_stream_tests PRIVATE osmosis_testing GTest::gtest_main
  osmosis_warnings)
target_compile_definitions(osmosis_http_stream_tests PRIVATE
  OSMOSIS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(osmosis_http_stream_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)

# End to end on real servers: kube-apiserver, nats-server, the operator, the sidecar with the
# test app, and the gateway binary; checked with curl, python3-websockets and the nats CLI.
add_executable(osmosis_gateway_tests integration/gateway_test.cpp)
target_link_libraries(osmosis_gateway_tests PRIVATE osmosis_operator_testing osmosis_common
  GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_gateway_tests PRIVATE
  OSMOSIS_GATEWAY_BIN="$<TARGET_FILE:osmosis-gateway>"
  OSMOSIS_SIDECAR_BIN="$<TARGET_FILE:osmosis-sidecar>"
  OSMOSIS_TEST_APP_BIN="$<TARGET_FILE:osmosis-test-app>")
add_dependencies(osmosis_gateway_tests osmosis-gateway osmosis-sidecar osmosis-test-app)
# One process, one control plane for every case (as channel_integration); the current
# nats-server (hack/tools) when there is one.
set(gateway_nats "")
if(OSMOSIS_TOOLS_BIN AND EXISTS "${OSMOSIS_TOOLS_BIN}/nats-server")
  set(gateway_nats "OSMOSIS_NATS_SERVER=${OSMOSIS_TOOLS_BIN}/nats-server")
endif()
add_test(NAME gateway_integration COMMAND osmosis_gateway_tests)
set_tests_properties(gateway_integration PROPERTIES LABELS integration TIMEOUT 900
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN};${gateway_nats}")

# The gateway binary's flags: exit 2 and the reason (no servers needed).
add_executable(osmosis_gateway_flags_tests integration/gateway_flags_test.cpp)
target_link_libraries(osmosis_gateway_flags_tests PRIVATE osmosis_testing GTest::gtest_main
  osmosis_warnings)
target_compile_definitions(osmosis_gateway_flags_tests PRIVATE
  OSMOSIS_GATEWAY_BIN="$<TARGET_FILE:osmosis-gateway>")
add_dependencies(osmosis_gateway_flags_tests osmosis-gateway)
gtest_discover_tests(osmosis_gateway_flags_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)

# Refusals on the real Gateway and HTTP server against fakes of NATS and the API server.
add_executable(osmosis_gateway_refusal_tests integration/gateway_refusals_test.cpp)
target_link_libraries(osmosis_gateway_refusal_tests PRIVATE osmosis_gateway osmosis_testing
  GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_gateway_refusal_tests PROPERTIES LABELS integration
  DISCOVERY_TIMEOUT 60)

# The gateway benchmark (hack/bench/gateway.sh builds it in a release tree and runs it); not a test.
add_executable(osmosis_gateway_bench ${PROJECT_SOURCE_DIR}/hack/bench/gateway_bench.cpp)
target_link_libraries(osmosis_gateway_bench PRIVATE osmosis_common osmosis_testing
  osmosis_warnings)
