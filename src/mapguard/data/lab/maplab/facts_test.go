package maplab

// Facts: behaviour that needs one observation rather than a timing. Each is a benchmark run
// once (-test.benchtime=1x) that reports what it saw as metrics, so that the lab reads facts
// and timings through the same Go benchmark format.

import (
	"bytes"
	"context"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

const childEnv = "MAPGUARD_LAB_CHILD"

// TestLabChild is the body of the facts that crash a process: it runs only in a child started
// by runChild, never in a normal test run.
func TestLabChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("runs only as a child of a fact benchmark")
	case "concurrent-writes":
		defer func() {
			if recover() != nil {
				os.Stdout.WriteString("recovered\n")
			}
		}()
		m := map[int]int{}
		for g := 0; g < 2; g++ {
			go func(g int) {
				for i := 0; ; i++ {
					m[i%1024] = g
				}
			}(g)
		}
		time.Sleep(20 * time.Second)
	case "published-write":
		var published atomic.Pointer[map[int]int]
		m := map[int]int{}
		fill(m, 1024)
		published.Store(&m)
		go func() {
			for i := 0; ; i++ {
				countSink += (*published.Load())[i%1024]
			}
		}()
		go func() {
			for i := 0; ; i++ {
				(*published.Load())[i%1024] = i // written after publication
			}
		}()
		time.Sleep(20 * time.Second)
	}
}

// runChild runs TestLabChild in a new process and returns its exit status and output.
func runChild(b *testing.B, mode string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLabChild$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	status := 0
	if exit, ok := err.(*exec.ExitError); ok {
		status = exit.ExitCode()
	} else if err != nil {
		b.Fatalf("child %s: %v", mode, err)
	}
	return status, out.String()
}

func boolMetric(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

func BenchmarkFactConcurrentWrites(b *testing.B) {
	status, out := runChild(b, "concurrent-writes")
	b.ReportMetric(boolMetric(status != 0 && strings.Contains(out, "fatal error: concurrent map writes")), "fatal")
	b.ReportMetric(boolMetric(strings.Contains(out, "recovered")), "recovered")
}

func BenchmarkFactPublishedWrite(b *testing.B) {
	status, out := runChild(b, "published-write")
	b.ReportMetric(boolMetric(status != 0 && strings.Contains(out, "concurrent map read and map write")), "fatal")
}

func BenchmarkFactMapValue(b *testing.B) {
	var m map[int]int
	var s []int
	b.ReportMetric(float64(unsafe.Sizeof(m)), "map-value-B")
	b.ReportMetric(float64(unsafe.Sizeof(uintptr(0))), "pointer-B")
	b.ReportMetric(float64(unsafe.Sizeof(s)), "slice-header-B")
	caller := map[int]int{}
	WriteThroughValue(caller, 1, 2)
	b.ReportMetric(boolMetric(caller[1] == 2), "caller-sees-write")
}

func BenchmarkFactNaNKeys(b *testing.B) {
	build := func() map[float64]int {
		return map[float64]int{math.NaN(): 1, math.NaN(): 2, 1: 3}
	}
	looped, cleared := build(), build()
	ClearFloatsByDeleteLoop(looped)
	ClearFloatsByBuiltin(cleared)
	b.ReportMetric(float64(len(looped)), "left-after-loop")
	b.ReportMetric(float64(len(cleared)), "left-after-clear")
}

func BenchmarkFactPoolGC(b *testing.B) {
	// One P: Put and Get meet in the same per-P cache, so only a GC can take the object.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var pool sync.Pool
	kept := func(gcs int) bool {
		marker := new(int)
		pool.Put(marker)
		for i := 0; i < gcs; i++ {
			runtime.GC()
		}
		got, _ := pool.Get().(*int)
		return got == marker
	}
	b.ReportMetric(boolMetric(kept(0)), "kept-without-gc")
	b.ReportMetric(boolMetric(kept(1)), "kept-after-1-gc")
	b.ReportMetric(boolMetric(kept(2)), "kept-after-2-gc")
}

func BenchmarkFactHTTPConcurrent(b *testing.B) {
	var active, most int32
	both := make(chan struct{})
	var once sync.Once
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := atomic.AddInt32(&active, 1)
		for {
			seen := atomic.LoadInt32(&most)
			if now <= seen || atomic.CompareAndSwapInt32(&most, seen, now) {
				break
			}
		}
		if now == 2 {
			once.Do(func() { close(both) })
		}
		select { // hold the request until the other one is in its handler too
		case <-both:
		case <-time.After(5 * time.Second):
		}
		atomic.AddInt32(&active, -1)
	}))
	defer server.Close()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get(server.URL); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(atomic.LoadInt32(&most)), "handlers-at-once")
}

func BenchmarkFactFirstGrowth(b *testing.B) {
	for _, n := range []int{8, 9} {
		n := n
		allocs := testing.AllocsPerRun(100, func() { mapSink = FillWithoutHint(n) })
		b.ReportMetric(allocs, "allocs-fill-"+strconv.Itoa(n))
	}
}

func heapLive() float64 {
	runtime.GC()
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return float64(stats.HeapAlloc)
}

func allocated(f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc - before.TotalAlloc)
}

// BenchmarkFactRetention: the heap a map of retentionSize entries keeps when emptied, and what
// copying an emptied map costs.
func BenchmarkFactRetention(b *testing.B) {
	base := heapLive()
	m := make(map[int]int)
	fill(m, retentionSize)
	b.ReportMetric(heapLive()-base, "full-B")
	clear(m)
	b.ReportMetric(heapLive()-base, "after-clear-B")
	b.ReportMetric(allocated(func() { mapSink = maps.Clone(m) }), "clone-of-emptied-B")
	b.ReportMetric(allocated(func() { mapSink = make(map[int]int, len(m)) }), "fresh-copy-B")
	runtime.KeepAlive(m)
	m, mapSink = nil, nil
	base = heapLive()
	d := make(map[int]int)
	fill(d, retentionSize)
	for i := 0; i < retentionSize; i++ { // key by key: not the loop the compiler turns into clear
		delete(d, i)
	}
	b.ReportMetric(heapLive()-base, "after-delete-B")
	runtime.KeepAlive(d)
}

// BenchmarkFactLazyInit: two goroutines run `if m == nil { m = make(...) }; m[key] = 1`, and
// both pass the nil check before either assigns (the interleaving is forced with channels, so
// that the outcome does not depend on luck). One write is lost with the map it went into.
func BenchmarkFactLazyInit(b *testing.B) {
	var lazy map[string]int
	checked := make(chan struct{})
	proceed := []chan struct{}{make(chan struct{}), make(chan struct{})}
	done := make(chan struct{})
	builds := 0
	for g, key := range []string{"first", "second"} {
		go func(g int, key string) {
			if lazy == nil {
				checked <- struct{}{}
				<-proceed[g]
				lazy = make(map[string]int)
				builds++
			}
			lazy[key] = 1
			done <- struct{}{}
		}(g, key)
	}
	<-checked
	<-checked
	close(proceed[0])
	<-done
	close(proceed[1])
	<-done
	b.ReportMetric(float64(builds), "maps-built")
	b.ReportMetric(float64(2-len(lazy)), "lost-writes")
}
