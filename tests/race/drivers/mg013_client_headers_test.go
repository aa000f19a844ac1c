package apiclient

import "testing"

// A fresh client per round; two goroutines make calls through it at once.
func concurrently(call func(c *Client)) {
	for round := 0; round < 8; round++ {
		c := New("https://api.example", "token")
		raceHammer(2, func(g int) { call(c) })
	}
}

func TestRaceGet(t *testing.T) { concurrently(func(c *Client) { c.Get("/a", "id") }) }

func TestRaceTagged(t *testing.T) { concurrently(func(c *Client) { c.Tagged("/a", "/users") }) }

func TestRaceDecorate(t *testing.T) {
	concurrently(func(c *Client) { c.Decorate(&Call{URL: "/a"}, "en") })
}

func TestRaceQuery(t *testing.T) { concurrently(func(c *Client) { c.Query("ann") }) }

func TestRacePrepared(t *testing.T) { concurrently(func(c *Client) { c.Prepared("/a") }) }

// Own copies, the owner's lock, and builders used once each: nothing is shared unguarded.
func TestCleanOwnMaps(t *testing.T) {
	c := New("https://api.example", "token")
	locked := &Locked{header: map[string]string{}}
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			c.GetOwn("/a", "id")
			c.QueryOwn("ann")
			locked.Stamp(&Call{}, "id")
			b := &RequestBuilder{path: "/a", labels: map[string]string{}}
			b.WithLabel("k", "v").Build()
		}
	})
}
