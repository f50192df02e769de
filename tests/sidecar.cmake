# Sidecar tests (unit, integration, e2e); included from tests/CMakeLists.txt.
