package crawler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func fakeFetch(_ context.Context, url string) (int, error) {
	if strings.Contains(url, "down") {
		return 0, errors.New("connection refused")
	}
	return 200, nil
}

var urls = []string{
	"https://a.example/1", "https://a.example/2", "https://b.example/1", "https://b.example/2",
	"https://down.example/1", "https://down.example/2", "https://down.example/3",
}

func TestRaceCheckAll(t *testing.T) {
	for i := 0; i < 3; i++ {
		CheckAll(context.Background(), fakeFetch, urls)
	}
}

// feed sends n jobs on an unbuffered channel once the workers are parked on it: parked
// receivers are served in turn, so consecutive jobs go to different workers. (From a
// pre-filled buffer, whichever worker runs first tends to drain it alone.)
func feed(n int) <-chan string {
	jobs := make(chan string)
	go func() {
		time.Sleep(2 * time.Millisecond)
		for i := 0; i < n; i++ {
			jobs <- urls[i%len(urls)]
		}
		close(jobs)
	}()
	return jobs
}

func TestRaceDedup(t *testing.T) {
	for round := 0; round < 4; round++ {
		Dedup(feed(40), 4)
	}
}

func TestRacePrune(t *testing.T) {
	status := make(map[string]int, len(urls))
	for _, u := range urls {
		status[u] = 200
	}
	Prune(Report{Status: status}, urls)
}
