package fanout

import (
	"strconv"
	"sync"
	"testing"
)

func TestRaceDispatch(t *testing.T) {
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		workers := make([]chan<- Job, 3)
		for i := range workers {
			jobs := make(chan Job)
			workers[i] = jobs
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for job := range jobs {
					for k, v := range job.Params {
						n += len(k) + len(v)
					}
				}
			}()
		}
		Dispatch(workers, map[string]string{"image": "app:1", "attempt": "1"}, 5)
		for _, w := range workers {
			close(w)
		}
		wg.Wait()
	}
}

func TestRacePartition(t *testing.T) {
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "user" + strconv.Itoa(i)
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		wg.Add(len(keys) / 4)
		Partition(keys, 4, func(part map[string]int) {
			defer wg.Done()
			n := 0
			for _, v := range part {
				n += v
			}
		})
		wg.Wait()
	}
}

type sub struct{}

func (s sub) Deliver(key, addr string) {}

func TestRaceRoute(t *testing.T) {
	for round := 0; round < 3; round++ {
		table := make(map[string]string)
		for i := 0; i < 10; i++ {
			table["svc"+strconv.Itoa(i)] = "10.0.0." + strconv.Itoa(i)
		}
		subs := []Subscriber{sub{}, sub{}, sub{}}
		Route(subs, table, "svc-new", "10.0.1.1")
	}
}

func TestRaceReplicate(t *testing.T) {
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		replicas := make([]chan<- map[string][]byte, 3)
		for i := range replicas {
			ch := make(chan map[string][]byte)
			replicas[i] = ch
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for pending := range ch {
					for k, v := range pending {
						n += len(k) + len(v)
					}
				}
			}()
		}
		pending := map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")}
		Replicate(replicas, pending)
		for _, r := range replicas {
			close(r)
		}
		wg.Wait()
	}
}

func TestRaceCheckpoints(t *testing.T) {
	rows := make([]Row, 40)
	for i := range rows {
		rows[i] = Row{Key: "row" + strconv.Itoa(i), Value: strconv.Itoa(i * i)}
	}
	for round := 0; round < 3; round++ {
		out := make(chan uint64, len(rows))
		Checkpoints(rows, 5, out)
		for i := 0; i < (len(rows)-1)/5; i++ {
			<-out
		}
	}
}
