// A Go client for the name verification e2e tests (test_names.cpp):
//   go_tls NAME ADDR:PORT   TLS with SNI NAME (certificates not checked), GET /
// Prints "ok STATUS BODY" and exits 0, or "refused ERROR" and exits 1.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	name, addr := os.Args[1], os.Args[2]
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialTLS: func(network, _ string) (net.Conn, error) {
				return tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
			},
		},
	}
	resp, err := client.Get("https://" + name + "/")
	if err != nil {
		fmt.Println("refused", err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println("ok", resp.Status, string(body))
}
