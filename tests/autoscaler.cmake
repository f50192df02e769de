# Autoscaler tests; included from tests/CMakeLists.txt.

# Unit: the pure decision engine (no servers, time injected).
add_executable(osmosis_autoscaler_tests unit/autoscaler_engine_test.cpp
  unit/autoscaler_consumer_throughput_test.cpp
  unit/autoscaler_deletion_cost_test.cpp)
target_link_libraries(osmosis_autoscaler_tests PRIVATE osmosis_autoscaler GTest::gtest_main
  osmosis_warnings)
gtest_discover_tests(osmosis_autoscaler_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# Unit: the simulator (hack/sim, docs/scaling-quality.md): its own parts, and a replay of the
# shipped traces through the real engine that checks issue 13's targets where they are met:
# Osmosis drain mode below the KEDA + HPA model on p99 wait and replica-seconds on every trace,
# changes/h at most 3x KEDA's on every trace but sawtooth (not met there, nor the first-burst
# target: see the docs). Deterministic: no timing involved.
add_executable(osmosis_sim_tests unit/sim_test.cpp)
target_link_libraries(osmosis_sim_tests PRIVATE osmosis_sim GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_sim_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
file(GLOB OSMOSIS_SIM_TRACES ${PROJECT_SOURCE_DIR}/hack/sim/traces/*.csv)
add_test(NAME scaling_sim_targets COMMAND osmosis-sim --check p99,cost ${OSMOSIS_SIM_TRACES})
set(OSMOSIS_SIM_CHANGES_TRACES ${OSMOSIS_SIM_TRACES})
list(FILTER OSMOSIS_SIM_CHANGES_TRACES EXCLUDE REGEX "sawtooth")
add_test(NAME scaling_sim_changes COMMAND osmosis-sim --check changes ${OSMOSIS_SIM_CHANGES_TRACES})
# Traces the engine was not tuned on (hack/sim/traces/random.py, seeds 1 and 2, 30 traces with
# random models): replica-seconds below KEDA + HPA's, changes/h at most 3 x 1.25 of KEDA's. The
# p99 target is not checked there: KEDA's 300 s hold sometimes leaves pods standing when a
# dump comes, winning p99 at about twice the replica-seconds (docs/scaling-quality.md).
set(OSMOSIS_SIM_RANDOM ${CMAKE_CURRENT_BINARY_DIR}/sim-random)
add_test(NAME scaling_sim_random
         COMMAND sh -c "rm -rf '${OSMOSIS_SIM_RANDOM}' && \
python3 '${PROJECT_SOURCE_DIR}/hack/sim/traces/random.py' '${OSMOSIS_SIM_RANDOM}' 15 1 && \
python3 '${PROJECT_SOURCE_DIR}/hack/sim/traces/random.py' '${OSMOSIS_SIM_RANDOM}' 15 2 && \
'$<TARGET_FILE:osmosis-sim>' --check cost,changes --tolerance 0.25 '${OSMOSIS_SIM_RANDOM}'/*.csv")
# --variant from the command line: a setting left as it is replays as osmosis-drain, a bad
# variant exits 2 with a reason.
add_test(NAME scaling_sim_variants
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/unit/sim_variants_test.sh $<TARGET_FILE:osmosis-sim>
                 ${PROJECT_SOURCE_DIR}/hack/sim/traces/on-off.csv)
# The page's per-trace tables are the simulator's output today (they drift when the engine does).
add_test(NAME scaling_sim_doc_tables
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/unit/sim_doc_tables_test.sh $<TARGET_FILE:osmosis-sim>
                 ${PROJECT_SOURCE_DIR}/docs/scaling-quality.md ${OSMOSIS_SIM_TRACES})
set_tests_properties(scaling_sim_targets scaling_sim_changes scaling_sim_random
                     scaling_sim_variants scaling_sim_doc_tables PROPERTIES LABELS unit TIMEOUT 300)

# Unit: the pure pieces of the autoscaler's I/O side (report intake, status, HPA detection).
add_executable(osmosis_scaler_unit_tests unit/autoscaler_scaler_test.cpp
  unit/autoscaler_channel_scaler_test.cpp)
target_link_libraries(osmosis_scaler_unit_tests PRIVATE osmosis_scaler osmosis_fakes GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_scaler_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# The kubelet stand-in for a control plane without nodes: runs a Deployment's replicas as local
# sidecar + test-app pairs (e2e tests, the autoscaling benchmark, the demo).
add_executable(osmosis-pod-runner fixtures/pod_runner.cpp)
target_link_libraries(osmosis-pod-runner PRIVATE osmosis_kube osmosis_testing osmosis_warnings)

# e2e: the operator scaling a Deployment run by the pod runner, against the real control plane
# and nats-server. One ctest entry: the tests share one control plane.
add_executable(osmosis_autoscale_e2e_tests e2e/autoscale_test.cpp)
target_link_libraries(osmosis_autoscale_e2e_tests PRIVATE osmosis_operator_testing GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_autoscale_e2e_tests PRIVATE
  OSMOSIS_POD_RUNNER_BIN="$<TARGET_FILE:osmosis-pod-runner>"
  OSMOSIS_SIDECAR_BIN="$<TARGET_FILE:osmosis-sidecar>"
  OSMOSIS_TEST_APP_BIN="$<TARGET_FILE:osmosis-test-app>")
add_dependencies(osmosis_autoscale_e2e_tests osmosis-pod-runner osmosis-sidecar osmosis-test-app)
add_test(NAME autoscale_e2e COMMAND osmosis_autoscale_e2e_tests)
set_tests_properties(autoscale_e2e PROPERTIES LABELS e2e TIMEOUT 900
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN}")

# The autoscaling reaction benchmark (hack/bench/autoscale.sh builds it in a release tree); not a test.
add_executable(osmosis_autoscale_bench ${PROJECT_SOURCE_DIR}/hack/bench/autoscale_bench.cpp)
target_link_libraries(osmosis_autoscale_bench PRIVATE osmosis_kube osmosis_testing osmosis_warnings)

# e2e: the operator under faults (NATS cut through a proxy, leader killed mid scale-up, API
# server restarted), against the real control plane and nats-server.
add_executable(osmosis_operator_fault_e2e_tests e2e/operator_fault_test.cpp)
target_link_libraries(osmosis_operator_fault_e2e_tests PRIVATE osmosis_operator_testing
  GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_operator_fault_e2e_tests PRIVATE
  OSMOSIS_OPERATOR_BIN="$<TARGET_FILE:osmosis-operator>")
add_test(NAME operator_fault_e2e COMMAND osmosis_operator_fault_e2e_tests)
set_tests_properties(operator_fault_e2e PROPERTIES LABELS e2e TIMEOUT 600
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN}")
