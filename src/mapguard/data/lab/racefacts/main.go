// Data races on maps, for the race detector (built with -race): two goroutines writing one
// map, and a map written after it was published through an atomic.Pointer. The writes are few
// and spread out, so the process lives to report the races instead of dying of
// "concurrent map writes".
package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var wg sync.WaitGroup
	switch os.Args[1] {
	case "map-write":
		m := map[string]int{}
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				time.Sleep(time.Duration(g) * 10 * time.Millisecond)
				m[fmt.Sprint(g)] = g
			}(g)
		}
	case "published-write":
		var routes atomic.Pointer[map[string]string]
		m := map[string]string{"a": "1"}
		routes.Store(&m)
		wg.Add(2)
		go func() {
			defer wg.Done()
			fmt.Println(len((*routes.Load())["a"]))
		}()
		go func() {
			defer wg.Done()
			time.Sleep(10 * time.Millisecond)
			(*routes.Load())["b"] = "2"
		}()
	}
	wg.Wait()
}
