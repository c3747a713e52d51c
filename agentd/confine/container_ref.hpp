// Containers as sandboxes (agentctl oci-hook, agentctl sandbox adopt
// --container): what a container runtime tells us, checked before any of
// it becomes an adoption. Pure: text in, values or reasons out, no I/O.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::confine {

// The annotation that names a container's agent:
//   podman run --annotation io.agentd.agent=acme/eng/coder-1 IMAGE
inline constexpr std::string_view kAgentAnnotation = "io.agentd.agent";
// With "true", a tenant that no policy file names yet is adopted anyway
// (the same as --unknown-tenant: a staged roll-out).
inline constexpr std::string_view kUnknownTenantAnnotation = "io.agentd.unknown-tenant";

// What an OCI runtime hands a hook on stdin (runtime-spec "state"), the
// parts agentd needs.
struct OciHookState {
  std::string id;     // the container's id
  pid_t pid = 0;      // its first process, created, not yet started
  std::string agent;  // the io.agentd.agent annotation; empty: none
  bool unknown_tenant = false;
};

// Parses the state document. Refused: not JSON, not an object, no id, a
// pid that is missing, not an integer or not above 1, annotations that are
// not strings.
Result<OciHookState> parse_oci_state(std::string_view text);

// A container reference as an operator types it (`docker ps` / `podman
// ps`: an id, an id prefix or a name): [A-Za-z0-9][A-Za-z0-9_.-]*, at most
// 255 bytes. It goes to a runtime's command line as one argument; this
// keeps option-like or odd text out of it.
Status check_container_ref(std::string_view ref);

// A container's full id as a runtime reports it: 64 lower-case hex digits.
Status check_container_id(std::string_view id);

// The cgroup that a container's process is in must name the container
// (runc, crun, Docker and Podman put its full id in the cgroup's last
// components: libpod-<id>, docker-<id>.scope, <parent>/<id>, with a
// trailing "container" leaf for crun's own cgroup). Else the pid no longer
// is the container's (it exited and was reused) and adopting its cgroup
// would enforce the wrong processes; or the container has no cgroup of its
// own (podman --cgroups=disabled) and the pid's cgroup is the runtime's or
// the operator's session. `container_id` is any id check_container_ref
// takes (runc's own ids are names).
Status check_cgroup_names_container(std::string_view cgroup_path, std::string_view container_id);

}  // namespace agentd::confine
