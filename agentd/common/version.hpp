#pragma once

namespace agentd {
// The release version, from CMake's project(VERSION).
const char* version();
}  // namespace agentd
