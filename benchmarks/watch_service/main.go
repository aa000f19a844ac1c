// The fixed part of the services benchmarks/bench_watch.py generates: load, net/http/pprof and
// Go-collector-style /metrics. The script writes sites.go beside it with the allocation sites
// (leafN functions) and the routes to them (the `routes` table). Not part of mapguard.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

const ticks = 100 // load ticks per second

var (
	sinkMap   map[int]int
	sinkNames map[string]int
	sinkBytes []byte
	sinkInts  []int
	started   = time.Now()
)

func metrics(w http.ResponseWriter, _ *http.Request) {
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	var b strings.Builder
	b.WriteString("# TYPE go_gc_duration_seconds summary\n")
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		fmt.Fprintf(&b, "go_gc_duration_seconds{quantile=%q} %g\n", q,
			gc.PauseQuantiles[i].Seconds())
	}
	fmt.Fprintf(&b, "go_gc_duration_seconds_sum %g\n", gc.PauseTotal.Seconds())
	fmt.Fprintf(&b, "go_gc_duration_seconds_count %d\n", gc.NumGC)
	fmt.Fprintf(&b, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(&b, "# TYPE process_start_time_seconds gauge\n")
	fmt.Fprintf(&b, "process_start_time_seconds %d\n", started.Unix())
	// A service's own series, which the agent must skip.
	b.WriteString("# TYPE http_requests_total counter\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "http_requests_total{handler=\"/api/v1/h%d\",code=\"200\"} %d\n", i, i*17)
	}
	w.Write([]byte(b.String()))
}

func main() {
	rate := flag.Int("rate", 1000, "route calls per second")
	profileRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: Go's default)")
	flag.Parse()
	if *profileRate > 0 {
		runtime.MemProfileRate = *profileRate
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/metrics", metrics)
	go func() {
		ticker := time.NewTicker(time.Second / ticks)
		n := 0
		for range ticker.C {
			for k := 0; k < *rate/ticks; k++ {
				routes[n%len(routes)](n * 7919 / len(routes))
				n++
			}
		}
	}()
	fmt.Printf("listening on http://%s\n", l.Addr())
	panic(http.Serve(l, nil))
}
