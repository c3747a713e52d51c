// unique_ptr owners for libbpf objects, so every kernel object has exactly
// one owner and is released on every path.
#pragma once

#include <bpf/libbpf.h>

#include <memory>

#include "egress.skel.h"

namespace agentd::bpf {

struct SkeletonDeleter {
  void operator()(egress_bpf* skel) const { egress_bpf::destroy(skel); }
};
using EgressSkeleton = std::unique_ptr<egress_bpf, SkeletonDeleter>;

// A pinned link outlives the process by design: destroying the userspace
// object must not detach it, so owners disconnect pinned links first.
struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

}  // namespace agentd::bpf
