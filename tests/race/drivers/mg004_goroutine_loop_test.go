package crawler

import (
	"context"
	"errors"
	"strings"
	"testing"
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

func TestRaceDedup(t *testing.T) {
	jobs := make(chan string, 20000)
	for i := 0; i < cap(jobs); i++ {
		jobs <- urls[i%len(urls)]
	}
	close(jobs)
	Dedup(jobs, 4)
}

func TestRacePrune(t *testing.T) {
	status := make(map[string]int, len(urls))
	for _, u := range urls {
		status[u] = 200
	}
	Prune(Report{Status: status}, urls)
}
