# Autoscaler tests; included from tests/CMakeLists.txt.

# Unit: the pure decision engine (no servers, time injected).
add_executable(osmosis_autoscaler_tests unit/autoscaler_engine_test.cpp)
target_link_libraries(osmosis_autoscaler_tests PRIVATE osmosis_autoscaler GTest::gtest_main
  osmosis_warnings)
gtest_discover_tests(osmosis_autoscaler_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
