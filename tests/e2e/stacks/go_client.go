// go_client.go -- a Go crypto/tls LLM API client for llmtap's end-to-end tests (built at test time with Debian's golang-go, stripped).
//
// Usage: go_client SPEC.json
//
//	go_client --echo HOST:PORT CAFILE N    (make bench: N rounds of a 64-byte Write and the Reads
//	                                       that bring it back, on one connection; prints µs per round)
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
	"net/http"
	"os"
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
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
	}
	fmt.Printf("%.3f\n", float64(time.Since(t0).Microseconds())/float64(n))
	return nil
}

func main() {
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
