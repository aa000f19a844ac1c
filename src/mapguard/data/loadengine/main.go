// Command loadengine is the open-loop HTTP load engine of `mapguard load`.
//
// It reads its plan (target, request bodies, rate steps) as JSON on stdin and sends requests at
// their intended times, whether or not earlier ones have been answered: a slow server does not
// slow the sending down (no coordinated omission). Latency runs from a request's intended send
// time to the end of its response, so time spent waiting for a free connection or for a late
// timer counts against the service as a user would see it.
//
// It writes JSON lines to stdout: one "start" line, then one "interval" line per second of
// intended send time (in order), then one "end" line. Each interval carries sparse
// histograms (microseconds, 3 significant digits) that the Python side loads into
// HdrHistogram. Standard library only: mapguard builds it with the Go toolchain it finds.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type step struct {
	Rate     float64 `json:"rate"`     // requests per second
	Duration float64 `json:"duration"` // seconds
	Warmup   bool    `json:"warmup"`   // measured like the others, flagged for exclusion
}

type plan struct {
	URL            string            `json:"url"`
	Method         string            `json:"method"`
	Headers        map[string]string `json:"headers"`
	Bodies         []string          `json:"bodies"`
	Steps          []step            `json:"steps"`
	MaxConnections int               `json:"max_connections"`
	TimeoutS       float64           `json:"timeout"`
	IntervalS      float64           `json:"interval"`
}

// --- histograms: the HdrHistogram bucket layout, 2048 sub-buckets (3 significant digits) ----

const (
	subBits    = 11
	subBuckets = 1 << subBits
	half       = subBuckets / 2
	maxMicros  = 1 << 36 // ~19 hours: far beyond any timeout
)

type histogram struct{ counts []int64 }

func newHistogram() *histogram {
	return &histogram{counts: make([]int64, bucketIndex(maxMicros)+1)}
}

func bucketIndex(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits
	return subBuckets + (shift-1)*half + int(v>>shift) - half
}

// bucketValue is the lowest value of a bucket: HdrHistogram counts it in the same bucket.
func bucketValue(index int) int64 {
	if index < subBuckets {
		return int64(index)
	}
	shift := (index-subBuckets)/half + 1
	return int64((index-subBuckets)%half+half) << shift
}

func (h *histogram) record(micros int64) {
	if micros < 0 {
		micros = 0
	}
	if micros > maxMicros {
		micros = maxMicros
	}
	h.counts[bucketIndex(micros)]++
}

// sparse is [[value, count], ...] for the non-empty buckets.
func (h *histogram) sparse() [][2]int64 {
	out := [][2]int64{}
	for i, c := range h.counts {
		if c != 0 {
			out = append(out, [2]int64{bucketValue(i), c})
		}
	}
	return out
}

// --- the schedule: ticket i's step and intended send time -------------------------------------

type schedule struct {
	start     time.Time
	steps     []step
	firstTick []int64         // first ticket of each step
	offset    []time.Duration // start of each step from `start`
	total     int64
	interval  time.Duration
	intervals []intervalSpan // every interval of every step, in time order
}

type intervalSpan struct {
	step       int
	start, end time.Duration // offsets from schedule start
	scheduled  int64
}

func newSchedule(steps []step, interval time.Duration) *schedule {
	s := &schedule{steps: steps, interval: interval}
	var at time.Duration
	for k, st := range steps {
		length := time.Duration(st.Duration * float64(time.Second))
		count := int64(math.Round(st.Rate * st.Duration))
		s.firstTick = append(s.firstTick, s.total)
		s.offset = append(s.offset, at)
		for from := time.Duration(0); from < length; from += interval {
			to := min(from+interval, length)
			// Tickets j of this step with j/rate in [from, to).
			first := int64(math.Ceil(from.Seconds() * st.Rate))
			last := int64(math.Ceil(to.Seconds() * st.Rate))
			if to == length {
				last = count
			}
			s.intervals = append(s.intervals, intervalSpan{k, at + from, at + to, max(0, min(last, count)-min(first, count))})
		}
		s.total += count
		at += length
	}
	return s
}

// ticket returns the step, the interval and the intended send time (offset) of ticket i.
func (s *schedule) ticket(i int64) (int, int, time.Duration) {
	k := sort.Search(len(s.firstTick), func(k int) bool { return s.firstTick[k] > i }) - 1
	at := s.offset[k] + time.Duration(float64(i-s.firstTick[k])/s.steps[k].Rate*float64(time.Second))
	n := sort.Search(len(s.intervals), func(n int) bool { return s.intervals[n].end > at })
	return k, min(n, len(s.intervals)-1), at
}

// stepEnd is the offset where step k ends.
func (s *schedule) stepEnd(k int) time.Duration {
	return s.offset[k] + time.Duration(s.steps[k].Duration*float64(time.Second))
}

// warmupEnd is the offset where the leading warm-up steps end.
func (s *schedule) warmupEnd() time.Duration {
	for k, st := range s.steps {
		if !st.Warmup {
			return s.offset[k]
		}
	}
	return s.end()
}

func (s *schedule) end() time.Duration {
	if len(s.intervals) == 0 {
		return 0
	}
	return s.intervals[len(s.intervals)-1].end
}

// --- what is counted per interval -------------------------------------------------------------

type tally struct {
	mu       sync.Mutex
	latency  *histogram // intended send time -> response read, answered requests
	service  *histogram // actual send -> response read: what a closed-loop client would see
	lag      *histogram // timer lateness of sends whose ticket was taken before its time
	errors   map[string]int64
	answered int64
	queued   int64 // tickets already overdue when a connection took them (all were busy)
	sent     int64 // tickets of this interval sent before their step ended (the rate held)
	done     int64 // tickets of this interval that are finished (answered, failed or not sent)
	// tickets due before an interrupt's stop whose send would have come after it: the
	// interrupt, not the generator or the service, kept them unsent, so they leave the run
	withdrawn int64
	maxConns  int64
	emitted   bool
}

func newTally() *tally {
	return &tally{latency: newHistogram(), service: newHistogram(), lag: newHistogram(), errors: map[string]int64{}}
}

type engine struct {
	plan        plan
	sched       *schedule
	requests    [][]byte
	address     string
	tlsConfig   *tls.Config
	timeout     time.Duration
	tallies     []*tally
	next        atomic.Int64 // next ticket to take
	workers     atomic.Int64
	inFlight    atomic.Int64
	stopAt      atomic.Int64 // offset (ns) after which nothing more is sent
	firstCut    atomic.Int64 // first ticket left out by an interrupt (total: none)
	interrupted atomic.Bool
	wg          sync.WaitGroup
	out         *json.Encoder
	outMu       sync.Mutex
	emitNext    int
}

func main() {
	var p plan
	decoder := json.NewDecoder(os.Stdin)
	if err := decoder.Decode(&p); err != nil {
		fail("reading the plan: %v", err)
	}
	e, err := newEngine(p)
	if err != nil {
		fail("%v", err)
	}
	// The engine allocates little per request; a lazier GC leaves more CPU for sending.
	debug.SetGCPercent(400)
	// The caller keeps stdin open while it wants the run: end of input (it stopped, or died
	// without a chance to signal) stops the sending like an interrupt.
	parentGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, io.MultiReader(decoder.Buffered(), os.Stdin))
		close(parentGone)
	}()
	e.run(parentGone)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadengine: "+format+"\n", args...)
	os.Exit(2)
}

func newEngine(p plan) (*engine, error) {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("not an http(s) URL: %q", p.URL)
	}
	if len(p.Steps) == 0 || p.MaxConnections < 1 || p.TimeoutS <= 0 || p.IntervalS <= 0 {
		return nil, errors.New("the plan needs steps, max_connections, timeout and interval")
	}
	for _, st := range p.Steps {
		if st.Rate <= 0 || st.Duration <= 0 {
			return nil, errors.New("every step needs a positive rate and duration")
		}
	}
	e := &engine{plan: p, timeout: time.Duration(p.TimeoutS * float64(time.Second))}
	e.address = u.Host
	if u.Port() == "" {
		e.address = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	if u.Scheme == "https" {
		e.tlsConfig = &tls.Config{ServerName: u.Hostname()}
	}
	bodies := p.Bodies
	if len(bodies) == 0 {
		bodies = []string{""}
	}
	for _, body := range bodies {
		e.requests = append(e.requests, buildRequest(p, u, body))
	}
	e.sched = newSchedule(p.Steps, time.Duration(p.IntervalS*float64(time.Second)))
	e.tallies = make([]*tally, len(e.sched.intervals))
	for i := range e.tallies {
		e.tallies[i] = newTally()
	}
	e.stopAt.Store(int64(e.sched.end()))
	e.firstCut.Store(e.sched.total)
	e.out = json.NewEncoder(os.Stdout)
	return e, nil
}

func buildRequest(p plan, u *url.URL, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", p.Method, u.RequestURI(), u.Host)
	keys := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, p.Headers[k])
	}
	if body != "" || p.Method == "POST" || p.Method == "PUT" || p.Method == "PATCH" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

func (e *engine) emit(v any) {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	_ = e.out.Encode(v)
}

func (e *engine) run(parentGone chan struct{}) {
	e.sched.start = time.Now()
	e.emit(map[string]any{
		"type": "start", "unix_ns": e.sched.start.UnixNano(), "tickets": e.sched.total,
		"intervals": len(e.sched.intervals), "gomaxprocs": runtime.GOMAXPROCS(0),
		"num_cpu": runtime.NumCPU(), "max_connections": e.plan.MaxConnections,
		"interval_ns":          e.sched.interval.Nanoseconds(),
		"measure_from_unix_ns": e.sched.start.Add(e.sched.warmupEnd()).UnixNano(),
	})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-signals:
		case <-parentGone:
		}
		e.interrupted.Store(true)
		e.stopAt.Store(int64(time.Since(e.sched.start)))
	}()

	initial := min(int64(e.plan.MaxConnections), 8)
	for range initial {
		e.spawn()
	}
	supervised := make(chan struct{})
	go every(2*time.Millisecond, supervised, e.growIfBehind)
	emitted := make(chan struct{})
	go every(100*time.Millisecond, emitted, func() { e.flush(false) })
	e.wg.Wait()
	close(supervised)
	// Tickets at or after an interrupt's stop were never taken: they leave the schedule.
	for i := e.firstCut.Load(); i < e.sched.total; i++ {
		_, n, _ := e.sched.ticket(i)
		e.sched.intervals[n].scheduled--
	}
	close(emitted)
	e.flush(true)
	e.emit(map[string]any{
		"type": "end", "unix_ns": time.Now().UnixNano(), "interrupted": e.interrupted.Load(),
		"stop_offset_ns": e.stopAt.Load(), "max_connections_used": e.workers.Load(),
	})
}

// growIfBehind adds a connection when the next ticket is overdue (all connections are busy),
// up to the plan's maximum.
func (e *engine) growIfBehind() {
	i := e.next.Load()
	if i >= e.sched.total || e.workers.Load() >= int64(e.plan.MaxConnections) {
		return
	}
	_, _, at := e.sched.ticket(i)
	if time.Since(e.sched.start) > at+time.Millisecond {
		e.spawn()
	}
}

// every calls f each interval until done is closed.
func every(interval time.Duration, done chan struct{}, f func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			f()
		}
	}
}

func (e *engine) spawn() {
	e.workers.Add(1)
	e.wg.Add(1)
	go e.work()
}

type connection struct {
	conn   net.Conn
	reader *bufio.Reader
}

func (e *engine) work() {
	defer e.wg.Done()
	var c *connection
	defer func() {
		if c != nil {
			c.conn.Close()
		}
	}()
	for {
		i := e.next.Add(1) - 1
		if i >= e.sched.total {
			return
		}
		k, n, at := e.sched.ticket(i)
		t := e.tallies[n]
		if at >= time.Duration(e.stopAt.Load()) {
			e.cutoff(i) // interrupted: this ticket and every later one are not part of the run
			return
		}
		overdue := time.Since(e.sched.start) > at+time.Millisecond
		if wait := at - time.Since(e.sched.start); wait > 0 {
			time.Sleep(wait)
		}
		sendOffset := time.Since(e.sched.start)
		stop := time.Duration(e.stopAt.Load())
		if at >= stop {
			e.cutoff(i) // interrupted while this ticket waited for its time
			return
		}
		if sendOffset >= stop {
			t.mu.Lock()
			if e.interrupted.Load() {
				t.withdrawn++
			} else {
				t.errors["not sent"]++ // the run's end came first: the generator fell behind
			}
			t.done++
			t.mu.Unlock()
			continue
		}
		inflight := e.inFlight.Add(1)
		var failure string
		c, failure = e.exchange(c, e.requests[i%int64(len(e.requests))])
		e.inFlight.Add(-1)
		finished := time.Since(e.sched.start)
		elapsed := finished - at
		t.mu.Lock()
		if sendOffset < e.sched.stepEnd(k) {
			t.sent++
		}
		if overdue {
			t.queued++
		} else {
			t.lag.record(int64((sendOffset - at) / time.Microsecond))
		}
		if failure == "" || strings.HasPrefix(failure, "status ") {
			t.answered++
			t.latency.record(int64(elapsed / time.Microsecond))
			t.service.record(int64((finished - sendOffset) / time.Microsecond))
		}
		if failure != "" {
			t.errors[failure]++
		}
		t.maxConns = max(t.maxConns, inflight)
		t.done++
		t.mu.Unlock()
	}
}

func (e *engine) cutoff(i int64) {
	for {
		current := e.firstCut.Load()
		if i >= current || e.firstCut.CompareAndSwap(current, i) {
			return
		}
	}
}

// exchange sends one request and reads its response; it returns the connection to reuse (nil
// when it was closed) and "" or the kind of failure.
func (e *engine) exchange(c *connection, request []byte) (*connection, string) {
	for attempt := 0; ; attempt++ {
		reused := c != nil
		if c == nil {
			conn, err := e.dial()
			if err != nil {
				return nil, classify(err)
			}
			c = &connection{conn: conn, reader: bufio.NewReaderSize(conn, 16<<10)}
		}
		_ = c.conn.SetDeadline(time.Now().Add(e.timeout))
		status, keep, err := roundTrip(c, request)
		if err == nil {
			if !keep {
				c.conn.Close()
				c = nil
			}
			if status >= 400 {
				return c, fmt.Sprintf("status %d", status)
			}
			return c, ""
		}
		c.conn.Close()
		c = nil
		// A keep-alive connection the server closed while idle: one retry on a fresh one.
		if reused && attempt == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			continue
		}
		return nil, classify(err)
	}
}

func (e *engine) dial() (net.Conn, error) {
	dialer := net.Dialer{Timeout: e.timeout}
	conn, err := dialer.Dial("tcp", e.address)
	if err != nil || e.tlsConfig == nil {
		return conn, err
	}
	tlsConn := tls.Client(conn, e.tlsConfig)
	_ = tlsConn.SetDeadline(time.Now().Add(e.timeout))
	if err := tlsConn.Handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	return tlsConn, nil
}

func roundTrip(c *connection, request []byte) (int, bool, error) {
	if _, err := c.conn.Write(request); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(c.reader, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}

func classify(err error) string {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var tlsErr tls.RecordHeaderError
	if errors.As(err, &tlsErr) {
		return "tls"
	}
	return "other"
}

// --- output -----------------------------------------------------------------------------------

// flush writes the intervals that are complete, in order; `all` writes the rest too.
func (e *engine) flush(all bool) {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	now := time.Since(e.sched.start)
	for e.emitNext < len(e.tallies) {
		span := e.sched.intervals[e.emitNext]
		t := e.tallies[e.emitNext]
		t.mu.Lock()
		ready := all || (now >= span.end && t.done >= span.scheduled)
		if !ready {
			t.mu.Unlock()
			return
		}
		record := map[string]any{
			"type": "interval", "index": e.emitNext, "step": span.step,
			"warmup":    e.plan.Steps[span.step].Warmup,
			"start_ns":  e.sched.start.Add(span.start).UnixNano(),
			"end_ns":    e.sched.start.Add(span.end).UnixNano(),
			"scheduled": span.scheduled - t.withdrawn, "sent": t.sent, "answered": t.answered,
			"queued": t.queued, "errors": t.errors, "max_in_flight": t.maxConns,
			"latency_us": t.latency.sparse(), "service_us": t.service.sparse(),
			"lag_us": t.lag.sparse(),
		}
		t.emitted = true
		t.mu.Unlock()
		_ = e.out.Encode(record)
		e.emitNext++
	}
}
