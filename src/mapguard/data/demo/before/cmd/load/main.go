// Command load drives riskd with a bounded number of POST /decide requests and prints
// throughput and latency percentiles. It only targets loopback addresses.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	countries  = []string{"DE", "DE", "FR", "US", "US", "US", "GB", "BR", "NG", "RU", "IN", "CN", "XX"}
	devices    = []string{"ios", "android", "web", "emulator-x86", "desktop"}
	currencies = []string{"EUR", "USD", "GBP", "BTC", "BRL"}
	reputation = []string{"clean", "clean", "clean", "clean", "clean", "clean", "clean", "clean", "proxy", "tor"}
)

type request struct {
	Tenant     string         `json:"tenant"`
	Subject    string         `json:"subject"`
	Attributes map[string]any `json:"attributes"`
}

func newRequest(rng *rand.Rand, tenants, subjects int) request {
	return request{
		Tenant:  "tenant-" + strconv.Itoa(rng.Intn(tenants)),
		Subject: "user-" + strconv.Itoa(rng.Intn(subjects)),
		Attributes: map[string]any{
			"amount":           float64(int(rng.ExpFloat64()*40000)) / 100,
			"currency":         currencies[rng.Intn(len(currencies))],
			"country":          countries[rng.Intn(len(countries))],
			"ip_reputation":    reputation[rng.Intn(len(reputation))],
			"device":           devices[rng.Intn(len(devices))],
			"device_age_days":  rng.Intn(400),
			"account_age_days": rng.Intn(2000),
			"cards_30d":        rng.Intn(5),
			"tx_1h":            rng.Intn(12),
			"hour":             rng.Intn(24),
			"card_type":        []string{"credit", "debit", "prepaid"}[rng.Intn(3)],
		},
	}
}

// writeBodies prints n request bodies with the mix the workers send: about one in four repeats
// the previous one (a client retry, a cache hit).
func writeBodies(w io.Writer, n int, seed int64, tenants, subjects int) {
	rng := rand.New(rand.NewSource(seed))
	out := bufio.NewWriter(w)
	defer out.Flush()
	var body []byte
	for i := 0; i < n; i++ {
		if body == nil || rng.Intn(4) > 0 {
			body, _ = json.Marshal(newRequest(rng, tenants, subjects))
		}
		out.Write(body)
		out.WriteByte('\n')
	}
}

func loopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to load %q: only loopback targets are allowed", target)
}

func main() {
	target := flag.String("target", "http://127.0.0.1:8080", "base URL of riskd (loopback only)")
	total := flag.Int("n", 2000, "total number of requests")
	workers := flag.Int("c", 8, "concurrent workers")
	maxDur := flag.Duration("duration", 60*time.Second, "stop after this long even if -n is not reached")
	tenants := flag.Int("tenants", 20, "number of distinct tenants")
	subjects := flag.Int("subjects", 500, "number of distinct subjects (smaller: more cache hits)")
	feedbackEvery := flag.Int("feedback-every", 0, "also POST /feedback after every N-th decision (0: never)")
	seed := flag.Int64("seed", 1, "random seed")
	printBodies := flag.Int("print-bodies", 0, "print this many request bodies (JSON lines) and exit, for an open-loop generator")
	flag.Parse()
	if *printBodies > 0 {
		writeBodies(os.Stdout, *printBodies, *seed, *tenants, *subjects)
		return
	}
	if err := loopback(*target); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *workers < 1 || *total < 1 {
		fmt.Fprintln(os.Stderr, "-n and -c must be positive")
		os.Exit(2)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}
	deadline := time.Now().Add(*maxDur)
	var issued, failed atomic.Int64
	latencies := make([][]time.Duration, *workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(*seed + int64(w)))
			var body []byte
			for issued.Add(1) <= int64(*total) && time.Now().Before(deadline) {
				// About one request in four is a client retry of the previous one (cache hit).
				if body == nil || rng.Intn(4) > 0 {
					body, _ = json.Marshal(newRequest(rng, *tenants, *subjects))
				}
				t0 := time.Now()
				resp, err := client.Post(*target+"/decide", "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				var d struct {
					ID string `json:"id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&d)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[w] = append(latencies[w], time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				if *feedbackEvery > 0 && len(latencies[w])%*feedbackEvery == 0 {
					fb, _ := json.Marshal(map[string]string{"id": d.ID, "label": "confirmed"})
					if resp, err := client.Post(*target+"/feedback", "application/json", bytes.NewReader(fb)); err == nil {
						resp.Body.Close()
					}
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	fmt.Printf("requests=%d failed=%d elapsed=%s rps=%.0f p50=%s p90=%s p99=%s max=%s\n",
		len(all), failed.Load(), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), pct(1))
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
