package maplab

import (
	"math"
	"runtime/metrics"
	"syscall"
	"testing"
)

// probe reports, per operation, what the timed loop cost beyond time: CPU time of the whole
// process (which, unlike wall-clock time, does not grow while other processes hold the CPU),
// bytes allocated, GC cycles and GC stop-the-world pause time, from runtime/metrics.
type probe struct {
	b       *testing.B
	samples []metrics.Sample
	start   [3]float64
	cpu     int64
}

// pauseMetric is the histogram of GC stop-the-world pauses: /sched/pauses/total/gc:seconds
// since Go 1.22, /gc/pauses:seconds before.
func pauseMetric() string {
	for _, d := range metrics.All() {
		if d.Name == "/sched/pauses/total/gc:seconds" {
			return d.Name
		}
	}
	return "/gc/pauses:seconds"
}

var probeMetrics = []string{"/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles", pauseMetric()}

func cpuNanos() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return usage.Utime.Nano() + usage.Stime.Nano()
}

func (p *probe) read() [3]float64 {
	metrics.Read(p.samples)
	var values [3]float64
	for i, s := range p.samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			values[i] = float64(s.Value.Uint64())
		case metrics.KindFloat64Histogram:
			values[i] = histogramSum(s.Value.Float64Histogram())
		}
	}
	return values
}

// histogramSum estimates the total of the values in a histogram from bucket midpoints.
func histogramSum(h *metrics.Float64Histogram) float64 {
	total := 0.0
	for i, count := range h.Counts {
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = hi
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		total += float64(count) * (lo + hi) / 2
	}
	return total
}

// startProbe reads the counters and resets the benchmark timer: call it right before the loop.
func startProbe(b *testing.B) *probe {
	p := &probe{b: b, samples: make([]metrics.Sample, len(probeMetrics))}
	for i, name := range probeMetrics {
		p.samples[i].Name = name
	}
	p.start = p.read()
	p.cpu = cpuNanos()
	b.ResetTimer()
	return p
}

// stop stops the timer and reports the per-op costs: call it right after the loop.
func (p *probe) stop() {
	p.b.StopTimer()
	cpu := cpuNanos() - p.cpu
	end := p.read()
	n := float64(p.b.N)
	p.b.ReportMetric(float64(cpu)/n, "cpu-ns/op")
	p.b.ReportMetric((end[0]-p.start[0])/n, "heap-B/op")
	p.b.ReportMetric((end[1]-p.start[1])*1e6/n, "gc-cycles/Mop")
	p.b.ReportMetric((end[2]-p.start[2])*1e9/n, "gc-pause-ns/op")
}
