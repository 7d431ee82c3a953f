// go_client.go -- a Go crypto/tls LLM API client for llmtap's end-to-end tests (built at test time with Debian's golang-go, stripped).
//
// Usage: go_client SPEC.json
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

func main() {
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
