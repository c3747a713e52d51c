/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The decision over one flattened rule value, shared word for word by the
 * BPF hooks and by userspace (policy explain, unit tests), so what the tests
 * check is what the kernel runs.
 */
#ifndef AGENTD_VERDICT_H
#define AGENTD_VERDICT_H

#include "agentd_abi.h"

#ifndef AGENTD_INLINE
#define AGENTD_INLINE static inline
#endif

struct agentd_verdict {
	__u8 action; /* AGENTD_ACTION_*, or 0 when no range matched */
	__u8 index;  /* the range that decided, AGENTD_RANGE_NONE when none */
};

/*
 * Precedence: the tenant's inference endpoint, then any explicit deny, then
 * any allow; nothing matched is 0 (the caller's default deny). The loop is
 * bounded by AGENTD_MAX_PORT_RANGES for the verifier.
 */
AGENTD_INLINE struct agentd_verdict
agentd_judge(const struct agentd_rule_value *value, __u16 port, __u8 proto_bit)
{
	struct agentd_verdict best = { 0, AGENTD_RANGE_NONE };
	__u32 count = value->count;
	__u32 i;

	if (count > AGENTD_MAX_PORT_RANGES)
		count = AGENTD_MAX_PORT_RANGES;
	for (i = 0; i < AGENTD_MAX_PORT_RANGES; i++) {
		const struct agentd_port_range *r;

		if (i >= count)
			break;
		r = &value->ranges[i];
		if (!(r->proto_mask & proto_bit) || port < r->lo || port > r->hi)
			continue;
		if (r->action > best.action) {
			best.action = r->action;
			best.index = (__u8)i;
		}
	}
	return best;
}

#endif /* AGENTD_VERDICT_H */
