// watch_sim serves captured pprof profiles on many loopback ports, as a fleet of Go services
// would, for benchmarks/bench_watch.py. It is a benchmark tool, not part of mapguard.
//
//	watch_sim MANIFEST.json
//
// The manifest names, per class of service, cumulative snapshots of its allocation profile
// (proto and debug=1 text, each later snapshot holding more allocation), its symbol table and
// its /metrics text, and one class per target. watch_sim listens on one port per target and
// one for /stats, prints {"stats": PORT, "targets": [PORT, ...]} on stdout, and serves until
// killed. /stats answers, per target, the times (Unix seconds) of its proto profile pulls.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type class struct {
	Proto   []string `json:"proto"`
	Text    []string `json:"text"`
	Symbols string   `json:"symbols"`
	Metrics string   `json:"metrics"`
}

type manifest struct {
	Classes map[string]class `json:"classes"`
	Targets []string         `json:"targets"`
}

type loaded struct {
	proto, text [][]byte
	symbols     map[uint64]string
	metrics     []byte
}

type target struct {
	class *loaded
	mu    sync.Mutex
	pulls []float64
	proto int
	text  int
}

func read(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return data
}

func load(c class) *loaded {
	l := &loaded{symbols: map[uint64]string{}, metrics: read(c.Metrics)}
	for _, p := range c.Proto {
		l.proto = append(l.proto, read(p))
	}
	for _, p := range c.Text {
		l.text = append(l.text, read(p))
	}
	for _, line := range strings.Split(string(read(c.Symbols)), "\n") {
		address, name, ok := strings.Cut(line, " ")
		if pc, err := strconv.ParseUint(address, 0, 64); ok && err == nil {
			l.symbols[pc] = name
		}
	}
	return l
}

// next returns snapshot n of a series, or the last one once they run out.
func next(series [][]byte, n *int) []byte {
	data := series[min(*n, len(series)-1)]
	*n++
	return data
}

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metrics":
		w.Write(t.class.metrics)
	case "/debug/pprof/symbol":
		var b strings.Builder
		b.WriteString("num_symbols: 1\n")
		for _, word := range strings.Split(r.URL.RawQuery, "+") {
			if pc, err := strconv.ParseUint(word, 0, 64); err == nil {
				if name, ok := t.class.symbols[pc]; ok {
					fmt.Fprintf(&b, "%#x %s\n", pc, name)
				}
			}
		}
		w.Write([]byte(b.String()))
	case "/debug/pprof/allocs":
		t.mu.Lock()
		var data []byte
		if r.FormValue("debug") == "1" {
			data = next(t.class.text, &t.text)
		} else { // the interval's pull: logged
			t.pulls = append(t.pulls, float64(time.Now().UnixNano())/1e9)
			data = next(t.class.proto, &t.proto)
		}
		t.mu.Unlock()
		w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return l
}

func main() {
	var m manifest
	if err := json.Unmarshal(read(os.Args[1]), &m); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	classes := map[string]*loaded{}
	for name, c := range m.Classes {
		classes[name] = load(c)
	}
	var targets []*target
	var ports []int
	for _, name := range m.Targets {
		t := &target{class: classes[name]}
		l := listen()
		go http.Serve(l, t)
		targets = append(targets, t)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	stats := listen()
	go http.Serve(stats, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		all := make([][]float64, len(targets))
		for i, t := range targets {
			t.mu.Lock()
			all[i] = append([]float64(nil), t.pulls...)
			t.mu.Unlock()
		}
		json.NewEncoder(w).Encode(all)
	}))
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"stats": stats.Addr().(*net.TCPAddr).Port, "targets": ports})
	select {}
}
