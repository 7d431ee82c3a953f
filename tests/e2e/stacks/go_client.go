// go_client.go -- a Go crypto/tls LLM API client for llmtap's end-to-end tests (built at test time with Debian's golang-go, stripped).
//
// Usage: go_client SPEC.json
//
//	go_client --echo HOST:PORT CAFILE N    (make bench: N rounds of a 64-byte Write and the Reads
//	                                       that bring it back, on one connection; prints µs per round:
//	                                       wall clock and the process's CPU time)
//	go_client --membench CERT KEY N        (make bench: a client and a server in this process over
//	                                       net.Pipe, N rounds of 64 bytes each way: four calls;
//	                                       prints µs per call, wall clock and CPU time)
//
//	SPEC = {"cafile": PATH, "calls": [{"tag", "url", "headers", "body"}], "wait_stdin": false}
//	(client.py's spec). With "wait_stdin" it first prints {"event": "waiting", "pid"} and reads a
//	line. Calls run in order on one http.Client (keep-alive: calls to one host share a
//	connection). Prints one JSON line per call: {"tag", "pid", "status", "body"} (the body as
//	read), or {"tag", "exception"}.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

type call struct {
	Tag     string            `json:"tag"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

type spec struct {
	CAFile    string `json:"cafile"`
	Calls     []call `json:"calls"`
	WaitStdin bool   `json:"wait_stdin"`
}

func emit(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func echo(addr, cafile string, n int) error {
	pem, err := os.ReadFile(cafile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return err
	}
	defer conn.Close()
	msg, buf := bytes.Repeat([]byte("e"), 64), make([]byte, 64)
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
	}
	wall := float64(time.Since(t0).Microseconds())
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := float64(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) / 1e3
	fmt.Printf("%.3f %.3f\n", wall/float64(n), cpu/float64(n))
	return nil
}

func membench(certFile, keyFile string, n int) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	a, b := net.Pipe()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(srv, buf); err != nil {
				done <- err
				return
			}
			if _, err := srv.Write(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := cli.Handshake(); err != nil {
		return err
	}
	msg, buf := bytes.Repeat([]byte("m"), 64), make([]byte, 64)
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := cli.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(cli, buf); err != nil {
			return err
		}
	}
	wall := float64(time.Since(t0).Microseconds())
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	if err := <-done; err != nil {
		return err
	}
	cpu := float64(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) / 1e3
	fmt.Printf("%.3f %.3f\n", wall/float64(4*n), cpu/float64(4*n))
	return nil
}

func main() {
	if len(os.Args) == 5 && os.Args[1] == "--membench" {
		var n int
		fmt.Sscan(os.Args[4], &n)
		if err := membench(os.Args[2], os.Args[3], n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 5 && os.Args[1] == "--echo" {
		var n int
		fmt.Sscan(os.Args[4], &n)
		if err := echo(os.Args[2], os.Args[3], n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var s spec
	if err := json.Unmarshal(raw, &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if s.WaitStdin {
		emit(map[string]interface{}{"event": "waiting", "pid": os.Getpid()})
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	failed := false
	for _, c := range s.Calls {
		req, err := http.NewRequest("POST", c.URL, bytes.NewReader(c.Body))
		if err == nil {
			for k, v := range c.Headers {
				req.Header.Set(k, v)
			}
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					emit(map[string]interface{}{"tag": c.Tag, "pid": os.Getpid(), "status": resp.StatusCode,
						"body": string(body)})
					continue
				}
			}
		}
		failed = true
		emit(map[string]interface{}{"tag": c.Tag, "exception": err.Error()})
	}
	if failed {
		os.Exit(1)
	}
}
