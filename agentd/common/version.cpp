#include "agentd/common/version.hpp"

#ifndef AGENTD_VERSION
#define AGENTD_VERSION "0.0.0"
#endif

namespace agentd {
const char* version() { return AGENTD_VERSION; }
}  // namespace agentd
