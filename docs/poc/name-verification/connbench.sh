#!/bin/sh
# Connection setup + first message: unverified destination (port not
# marked) vs verified by name (sockhash insert, parse, removal). Interleaved.
cd /work/poc-sni
N=${N:-2000}; ROUNDS=${ROUNDS:-4}
L="./loader -q -c /sys/fs/cgroup/unified/pocsni -a good.example.test"
run() {
	case $1 in
	unverified) $L -p 443 > run/bench-loader.log 2>&1 & ;;
	verified) $L -p 9000 > run/bench-loader.log 2>&1 & ;;
	esac
	LP=$!; sleep 1.5
	r=$(./incg.sh ./connbench 203.0.113.1 9000 $N)
	kill -INT $LP; wait $LP
	echo "$1 ${r}us/conn $(tail -1 run/bench-loader.log | grep -o 'verified=[0-9]*\|removed=[0-9]*' | tr '\n' ' ')"
}
for i in $(seq $ROUNDS); do run unverified; run verified; done
