package dialer

import "testing"

func concurrently(call func(d *Dialer)) {
	for round := 0; round < 8; round++ {
		DefaultOptions = Options{Timeout: 5, Params: map[string]string{"sslmode": "require"}}
		d := NewDialer()
		raceHammer(2, func(g int) { call(d) })
	}
}

func TestRaceForUser(t *testing.T) { concurrently(func(d *Dialer) { ForUser("ann") }) }

func TestRaceDial(t *testing.T) { concurrently(func(d *Dialer) { d.Dial("orders") }) }

func TestRaceTagged(t *testing.T) { concurrently(func(d *Dialer) { d.Tagged("api") }) }

func TestRaceWithMetric(t *testing.T) { concurrently(func(d *Dialer) { d.WithMetric("dials") }) }

// Copies with their own maps, structs built per call, and one builder per goroutine.
func TestCleanCopies(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			ForUserCopied("ann")
			Local("orders")
			b := &OptionsBuilder{opts: Options{Params: map[string]string{}}}
			b.WithTimeout(3).Build("ann")
		}
	})
}

func TestRaceConnect(t *testing.T) { concurrently(func(d *Dialer) { d.Connect("ann") }) }

func TestCleanConnectDeep(t *testing.T) {
	d := NewDialer()
	raceHammer(4, func(g int) { d.ConnectDeep("ann") })
}

func TestCleanScrapeOwn(t *testing.T) {
	p := NewPool()
	raceHammer(4, func(g int) { p.ScrapeOwn("host:9100") })
}
