/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The denial record rate limit: at most AGENTD_RECORDS_PER_SECOND records a
 * second for one (sandbox, destination, port, protocol, hook). What it holds
 * back is counted per sandbox (agentd_counters.suppressed) and carried in
 * the stream's next record, so every denial is accounted for: records
 * received + ring-full drops + suppressed = denials. Runs on the deny path
 * only; the allowed path never gets here.
 */
#ifndef AGENTD_RATELIMIT_BPF_H
#define AGENTD_RATELIMIT_BPF_H

#include "maps.bpf.h"

#define RATELIMIT_WINDOW_NS 1000000000ULL

static __always_inline void count_suppressed(__u32 slot)
{
	struct agentd_counters *c = bpf_map_lookup_elem(&agentd_counts, &slot);

	if (c)
		c->suppressed += 1;
}

/* Moves the stream's held-back count into the record. Read, then an atomic
 * subtract (no exchange before BPF ISA v3): an increment in between stays
 * for the next record, none is lost. */
static __always_inline void take_suppressed(struct agentd_ratelimit_value *value, __u32 *suppressed)
{
	__u64 held = value->suppressed;

	if (held)
		__sync_fetch_and_add(&value->suppressed, -held);
	*suppressed = (__u32)held;
}

/*
 * Whether this denial gets a record; if so, *suppressed is how many of
 * its stream were held back since the stream's last record. Concurrent
 * CPUs may let a record or two more through a window: the limit bounds
 * the rate, the accounting stays exact (each denial takes one branch).
 */
static __always_inline int denial_record_due(__u32 slot, __u32 family, const __u8 *addr, __u16 port,
					     __u8 protocol, __u8 hook, __u32 *suppressed)
{
	struct agentd_ratelimit_key key = {};
	struct agentd_ratelimit_value fresh = {}, *value;
	__u64 now = bpf_ktime_get_ns();

	key.slot = slot;
	key.family = family;
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	key.port = port;
	key.protocol = protocol;
	key.hook = hook;
	*suppressed = 0;
	value = bpf_map_lookup_elem(&agentd_ratelim, &key);
	if (!value) {
		fresh.window_start_ns = now;
		fresh.records = 1;
		bpf_map_update_elem(&agentd_ratelim, &key, &fresh, BPF_ANY);
		return 1;
	}
	if (now - value->window_start_ns >= RATELIMIT_WINDOW_NS) {
		value->window_start_ns = now;
		value->records = 1;
		take_suppressed(value, suppressed);
		return 1;
	}
	if (value->records < AGENTD_RECORDS_PER_SECOND) {
		__sync_fetch_and_add(&value->records, 1);
		take_suppressed(value, suppressed);
		return 1;
	}
	__sync_fetch_and_add(&value->suppressed, 1);
	count_suppressed(slot);
	return 0;
}

#endif /* AGENTD_RATELIMIT_BPF_H */
