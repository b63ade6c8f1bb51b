#!/usr/bin/env python3
# Off-CPU time per thread from a `perf record -e context-switches -c 1
# --call-graph dwarf --switch-events` of sluice (bench/kafka.sh, PERF_ARGS):
#   perf script -i perf.data --show-switch-events -F comm,tid,time,event,ip,sym >script.txt
#   python3 bench/offcpu.py script.txt [from-time to-time]
# prints, per thread, ms on a CPU, ms preempted (runnable, waiting for a CPU)
# and ms blocked, then the stacks threads blocked in, longest total first.
import sys, re, collections
lines = open(sys.argv[1]).read().split('\n')
t_from = float(sys.argv[2]) if len(sys.argv) > 2 else 0
t_to = float(sys.argv[3]) if len(sys.argv) > 3 else 1e18
hdr = re.compile(r'^(\S.*?)\s+(\d+)\s+(\d+\.\d+):\s+(.*)$')
state = {}  # tid -> dict
comm = {}
last_stack = {}
on = collections.Counter(); pre = collections.Counter(); blk = collections.Counter()
blk_by = collections.Counter(); cnt_by = collections.Counter()
i = 0
def key_of(stack):
    # first frames that are not kernel plumbing: up to 4 user/kernel names
    names = [s for s in stack if s and not s.startswith('0x') and '[unknown]' not in s]
    kern_top = [n for n in names[:8]][:2]
    user = [n for n in names if 'sluice::' in n or n.startswith('rd_kafka') or n.startswith('__GI') or 'pthread' in n or 'poll' in n or 'cnd_' in n or 'futex' in n.lower()]
    return ' < '.join(user[:4]) or ' < '.join(names[:4])
cur = None
while i < len(lines):
    ln = lines[i]; i += 1
    m = hdr.match(ln)
    if not m: continue
    c, tid, t, ev = m.group(1).strip(), int(m.group(2)), float(m.group(3)), m.group(4)
    comm[tid] = c
    if ev.startswith('context-switches'):
        st = []
        while i < len(lines) and lines[i].startswith('\t'):
            parts = lines[i].split(None, 1)
            st.append(parts[1].strip() if len(parts) > 1 else '')
            i += 1
        last_stack[tid] = st
        continue
    s = state.setdefault(tid, {'in': None, 'out': None, 'pre': False})
    if 'SWITCH OUT' in ev:
        if s['in'] is not None and t_from <= t <= t_to: on[tid] += t - s['in']
        s['out'] = t; s['pre'] = 'preempt' in ev; s['in'] = None
    elif 'SWITCH IN' in ev:
        if s['out'] is not None and t_from <= t <= t_to:
            d = t - s['out']
            if s['pre']: pre[tid] += d
            else:
                blk[tid] += d
                k = key_of(last_stack.get(tid, []))
                blk_by[(c, k)] += d; cnt_by[(c, k)] += 1
        s['in'] = t; s['out'] = None
print('%-8s %-14s %8s %8s %8s' % ('tid', 'thread', 'on ms', 'preempt', 'blocked'))
for tid in sorted(comm, key=lambda x: -on[x]):
    if on[tid] + pre[tid] + blk[tid] < 0.005: continue
    print('%-8d %-14s %8.1f %8.1f %8.1f' % (tid, comm[tid], on[tid]*1e3, pre[tid]*1e3, blk[tid]*1e3))
print()
for (c, k), d in sorted(blk_by.items(), key=lambda x: -x[1])[:25]:
    print('%-14s %7.1f ms %5d  %s' % (c, d*1e3, cnt_by[(c, k)], k[:200]))
