package exporter

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// drain reads every attribute map it receives until out is closed.
func drain(out <-chan map[string]string) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for attrs := range out {
			for k, v := range attrs {
				n += len(k) + len(v)
			}
		}
	}()
	return &wg
}

func label(i int) string { return "span-" + strconv.Itoa(i) }

func attrs(i int) map[string]string {
	return map[string]string{"span.id": label(i), "parent_id": label(i - 1), "http.route": "/orders"}
}

func TestRaceExport(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]string)
		wg := drain(out)
		e := New("orders", 0, out, nil)
		for i := 0; i < 10; i++ {
			e.Export(attrs(i), time.Now())
		}
		close(out)
		wg.Wait()
	}
}

func TestRaceExportCounted(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]string)
		wg := drain(out)
		// The stats goroutine only counts: it never touches an attribute map.
		exported := make(chan int, 16)
		var stats sync.WaitGroup
		stats.Add(1)
		go func() {
			defer stats.Done()
			total := 0
			for n := range exported {
				total += n
			}
		}()
		e := New("orders", 0, out, exported)
		for i := 0; i < 10; i++ {
			e.ExportCounted(attrs(i))
		}
		close(out)
		close(exported)
		wg.Wait()
		stats.Wait()
	}
}

func TestRaceExportAll(t *testing.T) {
	spans := make([]Span, 20)
	for i := range spans {
		spans[i] = Span{ID: label(i), Name: "GET /orders"}
	}
	send := func(sp Span, resource map[string]string) {
		n := 0
		for k, v := range resource {
			n += len(k) + len(v)
		}
	}
	for round := 0; round < 3; round++ {
		New("orders", 0, nil, nil).ExportAll(spans, 3, send)
	}
}

// Every batch is a map of its own: the consumer reads each while the next is filled.
func TestCleanBatch(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]string)
		wg := drain(out)
		spans := make(chan Span)
		go func() {
			for i := 0; i < 40; i++ {
				spans <- Span{ID: label(i), Name: "GET /orders"}
			}
			close(spans)
		}()
		New("orders", 40, out, nil).Batch(spans)
		close(out)
		wg.Wait()
	}
}
