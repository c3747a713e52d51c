/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The denial record rate limit: at most AGENTD_RECORDS_PER_SECOND records a
 * second for one (sandbox, destination, port, protocol, hook). What it holds
 * back is counted per sandbox (agentd_counters.suppressed) and carried in
 * the stream's next record. What passes goes on to the sandbox's record
 * budget (record_budget.bpf.h), which closes the accounting. Runs on the
 * deny path only; the allowed path never gets here.
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

/* Moves a held-back count into a record. Read, then an atomic subtract
 * (no exchange before BPF ISA v3): an increment in between stays for the
 * next record, none is lost. Called only once the record has its place
 * in the ring, so a full ring never loses what was held. */
static __always_inline __u32 take_held_count(__u64 *count)
{
	__u64 held = *count;

	if (held > 0xffffffffULL)
		held = 0xffffffffULL; /* the rest stays for the next record */
	if (held)
		__sync_fetch_and_add(count, -held);
	return (__u32)held;
}

/* What the stream held back since its last record (none for a new one). */
static __always_inline __u32 take_suppressed(struct agentd_ratelimit_value *value)
{
	return value ? take_held_count(&value->suppressed) : 0;
}

static __always_inline void ratelimit_key(struct agentd_ratelimit_key *key, __u32 slot, __u32 family,
					  const __u8 *addr, __u16 port, __u8 protocol, __u8 hook)
{
	key->slot = slot;
	key->family = family;
	__builtin_memcpy(key->addr, addr, sizeof(key->addr));
	key->port = port;
	key->protocol = protocol;
	key->hook = hook;
}

/*
 * Whether this denial's stream may have a record; if so, *stream is the
 * stream's state, or NULL for a stream seen for the first time (*fresh
 * set), which remember_stream() enters only once the sandbox's budget
 * admitted its record: a sandbox spraying new destinations past its budget
 * adds nothing to the shared LRU, so it cannot push out another sandbox's
 * streams and the counts they hold. Concurrent CPUs may let a record or
 * two more through a window: the limit bounds the rate, the accounting
 * stays exact (each denial takes one branch).
 */
static __always_inline int denial_record_due(__u32 slot, __u32 family, const __u8 *addr, __u16 port,
					     __u8 protocol, __u8 hook, __u64 now,
					     struct agentd_ratelimit_value **stream, int *fresh)
{
	struct agentd_ratelimit_key key = {};
	struct agentd_ratelimit_value *value;

	ratelimit_key(&key, slot, family, addr, port, protocol, hook);
	*stream = NULL;
	*fresh = 0;
	value = bpf_map_lookup_elem(&agentd_ratelim, &key);
	if (!value) {
		*fresh = 1;
		return 1;
	}
	if (now - value->window_start_ns >= RATELIMIT_WINDOW_NS) {
		value->window_start_ns = now;
		value->records = 1;
		*stream = value;
		return 1;
	}
	if (value->records < AGENTD_RECORDS_PER_SECOND) {
		__sync_fetch_and_add(&value->records, 1);
		*stream = value;
		return 1;
	}
	__sync_fetch_and_add(&value->suppressed, 1);
	count_suppressed(slot);
	return 0;
}

/* A new stream whose first record the budget admitted. */
static __always_inline void remember_stream(__u32 slot, __u32 family, const __u8 *addr, __u16 port, __u8 protocol,
					    __u8 hook, __u64 now)
{
	struct agentd_ratelimit_key key = {};
	struct agentd_ratelimit_value fresh = {};

	ratelimit_key(&key, slot, family, addr, port, protocol, hook);
	fresh.window_start_ns = now;
	fresh.records = 1;
	bpf_map_update_elem(&agentd_ratelim, &key, &fresh, BPF_ANY);
}

#endif /* AGENTD_RATELIMIT_BPF_H */
