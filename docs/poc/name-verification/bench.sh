#!/bin/sh
# Per-send cost: no program on the socket's path (port not marked), a
# verified socket taken out of the sockhash (the design), a verified socket
# kept in the sockhash (sk_msg runs on every send). Interleaved rounds.
cd /work/poc-sni
N=${N:-100000}; SIZE=${SIZE:-64}; ROUNDS=${ROUNDS:-5}
L="./loader -q -c /sys/fs/cgroup/unified/pocsni -a good.example.test"
run() { # mode
	case $1 in
	none) $L -p 443 > run/bench-loader.log 2>&1 & ;;
	removed) $L -p 9000 > run/bench-loader.log 2>&1 & ;;
	kept) $L -p 9000 -b > run/bench-loader.log 2>&1 & ;;
	esac
	LP=$!; sleep 1.5
	r=$(./incg.sh ./bench 203.0.113.1 9000 $N $SIZE)
	kill -INT $LP; wait $LP
	echo "$1 $r $(tail -1 run/bench-loader.log | grep -o 'msg_runs=[0-9]*\|removed=[0-9]*\|hdr_opt_runs=[0-9]*' | tr '\n' ' ')"
}
for i in $(seq $ROUNDS); do run none; run removed; run kept; done
