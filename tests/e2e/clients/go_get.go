// Go's net/http client, as a Go agent tool uses it, for the real clients
// e2e test (test_real_clients.cpp):
//   go_get URL   GET URL with Go's own resolver and dialer
// Prints "ok STATUS" and exits 0, or the error and exits 1.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	fmt.Println("ok", resp.StatusCode)
}
