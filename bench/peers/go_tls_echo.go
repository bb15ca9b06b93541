// go_tls_echo.go - Go crypto/tls echo server, the peer of
// bench/tls_echo_server.c in bench/tls_bench.sh.
//
//	go_tls_echo PORT CERT KEY [discard]
//
// Listens on 127.0.0.1; one goroutine per connection runs io.Copy(c, c)
// (with "discard": the same loop without the write; io.Discard's own
// ReadFrom would read in 8 KiB pieces).  *tls.Conn has no ReadFrom or
// WriteTo, so io.Copy is the plain 32 KiB read/write loop.  Go's defaults
// otherwise (TLS 1.2 minimum, its own cipher and curve preferences, one
// session ticket).  GOMAXPROCS follows the CPU affinity: 1 under
// `taskset -c 0`.  Standard library only; build with
// `GO111MODULE=off go build -o DIR/go_tls_echo go_tls_echo.go`.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) < 4 || len(os.Args) > 5 || (len(os.Args) == 5 && os.Args[4] != "discard") {
		fmt.Fprintln(os.Stderr, "usage: go_tls_echo PORT CERT KEY [discard]")
		os.Exit(2)
	}
	discard := len(os.Args) == 5
	cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_tls_echo:", err)
		os.Exit(1)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_tls_echo:", err)
		os.Exit(1)
	}
	ln = tls.NewListener(ln, cfg)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			if discard {
				buf := make([]byte, 32*1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			} else {
				io.Copy(c, c)
			}
		}(c)
	}
}
