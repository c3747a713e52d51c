// The pure-Go resolver (what most Go programs use, cgo or not): it reads
// /etc/resolv.conf itself and asks over connected UDP (TCP when truncated).
// Prints each address on a line; exit 0 when there was one, 1 when none.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_resolve NAME")
		os.Exit(2)
	}
	resolver := &net.Resolver{PreferGo: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := resolver.LookupIPAddr(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_resolve %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	for _, a := range addrs {
		fmt.Println(a.IP.String())
	}
}
