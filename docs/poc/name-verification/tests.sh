#!/bin/sh
# The PoC's cases; run with the world up and the loader attached.
C="timeout 10 ./incg.sh ${PY:-python3} client.py"
t() { echo "== $*"; "$@" 2>&1 | sed 's/^/   /'; }
t $C 203.0.113.1 443 tls a.ok.example.test
t $C 203.0.113.1 443 tls abc.test
t $C 203.0.113.1 443 tls abd.test
t $C 203.0.113.1 443 big good.example.test --split 1000
t $C 203.0.113.1 443 big evil.example.test --split 1000
t $C 203.0.113.1 443 ech good.example.test
t $C 203.0.113.1 443 frag good.example.test
t $C ::ffff:203.0.113.1 443 tls evil.example.test
t $C 203.0.113.1 443 tls ok.example.test
t $C 203.0.113.1 443 tls other.example.test
t $C 203.0.113.1 443 tls ""
t $C 203.0.113.1 443 tls good.example.test --split 3
t $C 203.0.113.1 443 tls good.example.test --split 200
t $C 203.0.113.1 443 tls evil.example.test --split 200
t $C 2001:db8:5c::1 8443 tls good.example.test
t $C 2001:db8:5c::1 8443 tls evil.example.test
t $C 203.0.113.1 80 http good.example.test
t $C 203.0.113.1 80 http evil.example.test
t $C 203.0.113.1 80 http GOOD.Example.Test
t $C 203.0.113.1 80 http good.example.test --split 20
t $C 2001:db8:5c::1 80 http good.example.test
t $C 203.0.113.1 80 raw 'GET / HTTP/1.1\r\nHost: good.example.test\r\nHost: evil.example.test\r\n\r\n'
t $C 203.0.113.1 80 raw 'GET http://evil.example.test/ HTTP/1.1\r\nHost: good.example.test\r\n\r\n'
t $C 203.0.113.1 80 raw '\r\nGET / HTTP/1.1\r\nHost: evil.example.test\r\n\r\n'
t $C 203.0.113.1 80 raw 'SSH-2.0-OpenSSH_9.2\r\n'
t $C 203.0.113.1 80 sendfile good.example.test
t $C 203.0.113.1 80 sendfile evil.example.test
t $C 203.0.113.1 80 tfo evil.example.test
t $C 203.0.113.1 80 race evil.example.test
echo "== openssl s_client good"; echo | timeout 5 ./incg.sh openssl s_client -connect 203.0.113.1:443 -servername good.example.test 2>&1 | grep -E "^CONNECTED|Protocol|Cipher is|errno|error" | head -4 | sed 's/^/   /'
echo "== openssl s_client evil"; echo | timeout 5 ./incg.sh openssl s_client -connect 203.0.113.1:443 -servername evil.example.test 2>&1 | grep -E "^CONNECTED|Protocol|Cipher is|errno|error" | head -4 | sed 's/^/   /'
echo "== curl good"; timeout 5 ./incg.sh curl -sk -o /dev/null -w '%{http_code}\n' --resolve good.example.test:443:203.0.113.1 https://good.example.test/ 2>&1 | sed 's/^/   /'
echo "== curl evil (shared address)"; timeout 5 ./incg.sh curl -sSk -o /dev/null -w '%{http_code}\n' --resolve evil.example.test:443:203.0.113.1 https://evil.example.test/ 2>&1 | sed 's/^/   /'
echo "== curl http evil"; timeout 5 ./incg.sh curl -sS -o /dev/null -w '%{http_code}\n' --resolve evil.example.test:80:203.0.113.1 http://evil.example.test/ 2>&1 | sed 's/^/   /'
