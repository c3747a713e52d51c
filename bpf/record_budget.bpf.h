/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-sandbox denial record budget: a token bucket per slot, checked
 * after the per-stream limit (ratelimit.bpf.h). The per-stream limit only
 * tames repeats of one destination; a sandbox that tries a new destination
 * every time passes it on every try and, before this budget, filled the
 * shared ring so that other sandboxes' records were dropped. With it, one
 * sandbox writes at most `burst` records at once and `rate` a second after
 * that, whatever it does; what the budget holds back is counted per
 * sandbox (agentd_records.held) and reported with the sandbox's next
 * record (held_before), so nothing goes unaccounted:
 *   denied = recorded + suppressed + held + dropped   (per slot)
 */
#ifndef AGENTD_RECORD_BUDGET_BPF_H
#define AGENTD_RECORD_BUDGET_BPF_H

#include "ratelimit.bpf.h"

/* Set by the daemon before load (--sandbox-records-per-second and
 * --sandbox-record-burst); const volatile so the verifier sees constants
 * and userspace can still write them through the skeleton's rodata. */
const volatile __u64 agentd_record_interval_ns = 1000000000ULL / AGENTD_SANDBOX_RECORDS_PER_SECOND;
const volatile __u64 agentd_record_burst = AGENTD_SANDBOX_RECORD_BURST;

enum record_fate {
	RECORD_HELD = 0,
	RECORD_DROPPED = 1,
	RECORD_WRITTEN = 2,
};

/* Counts what became of a denial that the stream limit let through. */
static __always_inline void count_record(__u32 slot, enum record_fate fate)
{
	struct agentd_record_counts *c = bpf_map_lookup_elem(&agentd_records, &slot);

	if (!c)
		return;
	if (fate == RECORD_HELD)
		c->held += 1;
	else if (fate == RECORD_DROPPED)
		c->dropped += 1;
	else
		c->recorded += 1;
}

/*
 * The bucket as GCRA keeps it: one "theoretical arrival time" per slot.
 * A record is due while that time is less than `burst` intervals ahead of
 * now; each record pushes it one interval further. One 64-bit word and an
 * atomic add, no lock: CPUs racing on one slot may let a record or two
 * more through (each CPU's check reads before the others' adds land), the
 * accounting stays exact because each denial takes one branch only.
 * Returns 1 when the sandbox may write a record now.
 */
static __always_inline int record_budget_take(struct agentd_record_budget *budget, __u64 now)
{
	__u64 interval = agentd_record_interval_ns;
	__u64 tat;

	if (!budget)
		return 1; /* slot outside the array: never, the slot is bounded */
	tat = budget->tat_ns;
	if (tat <= now) {
		/* Idle long enough for a full bucket: start afresh from now. */
		budget->tat_ns = now + interval;
		return 1;
	}
	if (tat - now >= agentd_record_burst * interval)
		return 0;
	__sync_fetch_and_add(&budget->tat_ns, interval);
	return 1;
}

/* Held back: counted now, reported with the sandbox's next record. */
static __always_inline void record_budget_hold(struct agentd_record_budget *budget, __u32 slot)
{
	if (budget)
		__sync_fetch_and_add(&budget->held, 1);
	count_record(slot, RECORD_HELD);
}

/* What the budget held back since the sandbox's last record, moved into
 * this one. */
static __always_inline __u32 record_budget_take_held(struct agentd_record_budget *budget)
{
	return budget ? take_held_count(&budget->held) : 0;
}

#endif /* AGENTD_RECORD_BUDGET_BPF_H */
