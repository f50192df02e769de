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
