// errsvc is a small HTTP service with a configurable error rate, for mapguard's SLO tests.
//
// It serves /work (500 for the configured share of requests, slow for another share), loads
// itself at a fixed request rate, and exposes Prometheus metrics on /metrics in the text format,
// written with the standard library only: http_requests_total{code}, the latency histogram
// http_request_duration_seconds, go_goroutines, go_gc_duration_seconds (a summary of per-cycle
// pauses, as client_golang exports it) and mapguard_map_alloc_bytes_total{target,site,op}.
package main

import (
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

type metrics struct {
	mu         sync.Mutex
	requests   map[int]uint64
	counts     []uint64 // per bucket, not cumulative; last is +Inf
	sum        float64
	total      uint64
	allocBytes atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[int]uint64{}, counts: make([]uint64, len(buckets)+1)}
}

func (m *metrics) observe(code int, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[code]++
	i := sort.SearchFloat64s(buckets, seconds)
	m.counts[i]++
	m.sum += seconds
	m.total++
}

// share decides request n's fate so that exactly floor(n*rate) of the first n are picked.
func share(n uint64, rate float64) bool {
	return math.Floor(float64(n+1)*rate) > math.Floor(float64(n)*rate)
}

func (m *metrics) write(w http.ResponseWriter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served, by status code.\n")
	b.WriteString("# TYPE http_requests_total counter\n")
	codes := make([]int, 0, len(m.requests))
	for code := range m.requests {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	for _, code := range codes {
		fmt.Fprintf(&b, "http_requests_total{code=\"%d\"} %d\n", code, m.requests[code])
	}
	b.WriteString("# HELP http_request_duration_seconds Request latency.\n")
	b.WriteString("# TYPE http_request_duration_seconds histogram\n")
	var cumulative uint64
	for i, bound := range buckets {
		cumulative += m.counts[i]
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{le=\"%g\"} %d\n", bound, cumulative)
	}
	fmt.Fprintf(&b, "http_request_duration_seconds_bucket{le=\"+Inf\"} %d\n", m.total)
	fmt.Fprintf(&b, "http_request_duration_seconds_sum %g\n", m.sum)
	fmt.Fprintf(&b, "http_request_duration_seconds_count %d\n", m.total)
	b.WriteString("# TYPE go_goroutines gauge\n")
	fmt.Fprintf(&b, "go_goroutines %d\n", runtime.NumGoroutine())
	var stats debug.GCStats
	stats.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&stats)
	b.WriteString("# TYPE go_gc_duration_seconds summary\n")
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		fmt.Fprintf(&b, "go_gc_duration_seconds{quantile=\"%s\"} %g\n", q, stats.PauseQuantiles[i].Seconds())
	}
	fmt.Fprintf(&b, "go_gc_duration_seconds_sum %g\n", stats.PauseTotal.Seconds())
	fmt.Fprintf(&b, "go_gc_duration_seconds_count %d\n", stats.NumGC)
	b.WriteString("# TYPE mapguard_map_alloc_bytes_total counter\n")
	fmt.Fprintf(&b, "mapguard_map_alloc_bytes_total{target=\"errsvc\",site=\"main.go:work\",op=\"create\"} %d\n",
		m.allocBytes.Load())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	errorRate := flag.Float64("error-rate", 0.01, "share of requests answered with 500")
	slowRate := flag.Float64("slow-rate", 0, "share of requests answered slowly")
	slow := flag.Duration("slow", 150*time.Millisecond, "latency of slow requests")
	rps := flag.Int("rps", 100, "requests per second the built-in load generator sends")
	flag.Parse()

	m := newMetrics()
	var served atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := served.Add(1) - 1
		scratch := make(map[int]int, 8) // a per-request map: the allocation mapguard watches
		for i := 0; i < 8; i++ {
			scratch[i] = i
		}
		m.allocBytes.Add(uint64(len(scratch)) * 64)
		if share(n, *slowRate) {
			time.Sleep(*slow)
		}
		code := http.StatusOK
		if share(n, *errorRate) {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		m.observe(code, time.Since(start).Seconds())
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { m.write(w) })

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "errsvc:", err)
		os.Exit(2)
	}
	url := "http://" + listener.Addr().String()
	go func() {
		client := &http.Client{Timeout: 5 * time.Second}
		ticker := time.NewTicker(time.Second / time.Duration(*rps))
		defer ticker.Stop()
		for range ticker.C {
			go func() {
				if resp, err := client.Get(url + "/work"); err == nil {
					resp.Body.Close()
				}
			}()
		}
	}()
	fmt.Println("listening on", url)
	if err := http.Serve(listener, mux); err != nil {
		fmt.Fprintln(os.Stderr, "errsvc:", err)
		os.Exit(1)
	}
}
